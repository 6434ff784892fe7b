/* The loan calculator, live: as the merchant moves a control, ask POST /api/v1/quotes/ and redraw the quote.
 *
 * Without this script the form still works: it submits by GET and the page renders the quote on the server.
 * With it, the form's controls follow the chosen product (days or months, the allowed terms, its methods),
 * requests are debounced and a stale answer never overwrites a newer one. Field errors come from the API's
 * `fields` and are shown under the field they name, as the server-rendered page shows them.
 */
(function () {
  "use strict";

  var form = document.getElementById("calculator-form");
  var productsData = document.getElementById("calculator-products");
  if (!form || !productsData || !window.fetch) {
    return;
  }
  var products = {};
  JSON.parse(productsData.textContent).forEach(function (product) {
    products[product.code] = product;
  });
  var page = form.closest(".calculator") || document;
  var DEBOUNCE_MS = 300;
  var timer = null;
  var inFlight = null;
  var FIELDS = ["product", "amount", "term", "repayment_method", "average_daily_sales", "start_date"];

  function control(name) {
    return form.elements.namedItem(name);
  }

  function currentProduct() {
    return products[control("product").value];
  }

  // Amounts arrive as strings ("53309.27"); shown as the server shows them: thousands grouped, in both languages.
  function money(text) {
    if (text === null || text === undefined) {
      return "-";
    }
    var parts = String(text).split(".");
    var whole = parts[0];
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.length > 1 ? whole + "." + parts[1] : whole;
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function fieldBox(name) {
    return form.querySelector('[data-field="' + name + '"]');
  }

  // The controls follow the product.

  function drawTermControl(product) {
    var holder = form.querySelector('[data-control-for="term"]');
    var old = control("term");
    var current = old ? old.value : "";
    var box = fieldBox("term");
    box.hidden = product.is_sales_share;
    var input;
    if (product.is_sales_share) {
      input = element("input", { type: "text", name: "term", id: "id_term", disabled: "disabled" });
    } else if (product.terms_are_a_range) {
      var terms = product.allowed_terms;
      input = element("input", {
        type: "number", name: "term", id: "id_term", min: terms[0], max: terms[terms.length - 1], step: 1,
      });
    } else {
      input = element("select", { name: "term", id: "id_term" });
      product.allowed_terms.forEach(function (term) {
        input.appendChild(element("option", { value: term }, term + " " + product.term_unit_label));
      });
    }
    var allowed = product.allowed_terms.map(String);
    input.value = allowed.indexOf(current) !== -1 ? current : (product.sample.term || "");
    holder.replaceChildren(input);
    form.querySelector("[data-term-unit]").textContent = product.term_unit_label;
    form.querySelector('[data-help-for="term"]').textContent = product.term_help;
  }

  function drawMethods(product) {
    var select = control("repayment_method");
    var current = select.value;
    select.replaceChildren();
    product.repayment_methods.forEach(function (method) {
      select.appendChild(element("option", { value: method.value }, method.label));
    });
    var values = product.repayment_methods.map(function (method) { return method.value; });
    select.value = values.indexOf(current) !== -1 ? current : values[0];
  }

  function adaptToProduct() {
    var product = currentProduct();
    if (!product) {
      return;
    }
    drawTermControl(product);
    drawMethods(product);
    var amount = control("amount");
    var value = parseFloat(amount.value);
    if (!(value >= parseFloat(product.amount_min) && value <= parseFloat(product.amount_max))) {
      amount.value = product.sample.amount;
    }
    form.querySelector('[data-help-for="amount"]').textContent = product.amount_help;
    fieldBox("average_daily_sales").hidden = !product.is_sales_share;
    if (product.is_sales_share && !control("average_daily_sales").value) {
      control("average_daily_sales").value = product.sample.average_daily_sales;
    }
  }

  // Errors, under the field the API names.

  function showErrors(fields, message) {
    FIELDS.forEach(function (name) {
      var list = form.querySelector('[data-errors-for="' + name + '"]');
      if (list) {
        list.replaceChildren();
        (fields[name] || []).forEach(function (text) {
          list.appendChild(element("li", {}, text));
        });
      }
      var input = control(name);
      if (input && input.setAttribute) {
        if (fields[name]) {
          input.setAttribute("aria-invalid", "true");
        } else {
          input.removeAttribute("aria-invalid");
        }
      }
    });
    var unnamed = Object.keys(fields).filter(function (name) { return FIELDS.indexOf(name) === -1; });
    var general = form.querySelector('[data-errors-for="product"]');
    unnamed.forEach(function (name) {
      fields[name].forEach(function (text) { general.appendChild(element("li", {}, text)); });
    });
    if (message && !Object.keys(fields).length) {
      general.appendChild(element("li", {}, message));
    }
  }

  function setShown(hasQuote, salesShare) {
    page.querySelectorAll('[data-when="quote"]').forEach(function (node) { node.hidden = !hasQuote; });
    page.querySelectorAll('[data-when="no-quote"]').forEach(function (node) { node.hidden = hasQuote; });
    page.querySelectorAll('[data-when="sales-share"]').forEach(function (node) { node.hidden = !salesShare; });
  }

  // The quote.

  function setText(name, text) {
    page.querySelectorAll('[data-quote="' + name + '"]').forEach(function (node) { node.textContent = text; });
  }

  function drawQuote(quote) {
    page.querySelectorAll('[data-when="premium"]').forEach(function (node) {
      node.hidden = !(quote.insurance_premium && Number(quote.insurance_premium) > 0);
    });
    setText("apr", quote.apr);
    setText("day_count_statement", quote.day_count_statement);
    setText("apr_method_statement", quote.apr_method_statement);
    ["amount", "net_disbursement", "insurance_premium", "total_interest", "total_fees", "total_cost_of_credit", "total_repayable"]
      .forEach(function (name) { setText(name, money(quote[name])); });
    if (quote.sales_share) {
      setText("daily_deduction", money(quote.sales_share.daily_deduction));
      setText("days_to_payoff", quote.sales_share.days_to_payoff);
      setText("payoff_date", quote.sales_share.payoff_date);
    }
    var standard = form.dataset.textStandard;
    var grades = document.getElementById("grades-body");
    grades.replaceChildren();
    quote.grades.forEach(function (row) {
      var tr = element("tr", row.grade === quote.grade ? { "class": "indicative" } : {});
      tr.appendChild(element("td", {}, row.grade + (row.grade === quote.grade ? " (" + standard + ")" : "")));
      tr.appendChild(element("td", {}, row.price_label));
      tr.appendChild(element("td", { "class": "num" }, row.apr === null ? "-" : row.apr + " %"));
      tr.appendChild(element("td", { "class": "num" }, money(row.total_repayable)));
      grades.appendChild(tr);
    });
    var schedule = document.getElementById("schedule-body");
    schedule.replaceChildren();
    quote.schedule.forEach(function (line) {
      var tr = element("tr");
      tr.appendChild(element("td", {}, line.number));
      tr.appendChild(element("td", {}, line.due_date));
      ["principal", "interest", "fee", "payment", "balance"].forEach(function (name) {
        tr.appendChild(element("td", { "class": "num" }, money(line[name])));
      });
      schedule.appendChild(tr);
    });
    setShown(true, Boolean(quote.sales_share));
  }

  // People type "50,000" or "50 000"; the API takes "50000" (it refuses separators from programs), so the page
  // sends what was meant.
  function typedAmount(text) {
    return String(text).replace(/[,，\s]/g, "");
  }

  function requestBody() {
    var product = currentProduct();
    var body = { product: control("product").value, amount: typedAmount(control("amount").value) };
    if (product && !product.is_sales_share) {
      body.term = control("term").value;
    }
    if (control("repayment_method").value) {
      body.repayment_method = control("repayment_method").value;
    }
    if (control("start_date").value) {
      body.start_date = control("start_date").value;
    }
    if (product && product.is_sales_share) {
      body.average_daily_sales = typedAmount(control("average_daily_sales").value);
    }
    return body;
  }

  function rememberInAddress(body) {
    // The address always says what is on screen, so it can be bookmarked or shared and opens the same quote.
    var params = new URLSearchParams();
    Object.keys(body).forEach(function (name) { params.set(name, body[name]); });
    window.history.replaceState(null, "", window.location.pathname + "?" + params.toString());
    followTerms(body);
  }

  // The page ends with "apply" (or "sign up to apply"): the link carries the terms on screen to the apply flow.
  function followTerms(body) {
    var next = document.getElementById("apply-next");
    if (!next) {
      return;
    }
    var terms = new URLSearchParams();
    ["amount", "term", "repayment_method"].forEach(function (name) {
      if (body[name]) {
        terms.set(name, body[name]);
      }
    });
    var applyUrl = next.dataset.applyPattern.replace(next.dataset.productPlaceholder, encodeURIComponent(body.product)) +
      "?" + terms.toString();
    next.querySelectorAll("[data-apply-link]").forEach(function (link) { link.href = applyUrl; });
    next.querySelectorAll("[data-signup-link], [data-signin-link]").forEach(function (link) {
      link.href = link.dataset.base + "?" + new URLSearchParams({ next: applyUrl }).toString();
    });
  }

  function ask() {
    var body = requestBody();
    rememberInAddress(body);
    if (inFlight) {
      inFlight.abort();
    }
    var controller = new AbortController();
    inFlight = controller;
    page.classList.add("pending");
    fetch(form.dataset.quoteUrl, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": form.dataset.csrfToken,
      },
      credentials: "same-origin",
      body: JSON.stringify(body),
      signal: controller.signal,
    })
      .then(function (response) {
        return response.json().then(function (data) { return { status: response.status, data: data }; });
      })
      .then(function (answer) {
        if (inFlight !== controller) {
          return;
        }
        if (answer.status === 200) {
          showErrors({}, "");
          drawQuote(answer.data);
        } else if (answer.status === 429) {
          showErrors({}, form.dataset.textThrottled);
        } else {
          showErrors(answer.data.fields || {}, answer.data.message || form.dataset.textFailed);
          setShown(false, false);
        }
      })
      .catch(function (error) {
        if (error.name !== "AbortError") {
          showErrors({}, form.dataset.textFailed);
        }
      })
      .finally(function () {
        if (inFlight === controller) {
          inFlight = null;
          page.classList.remove("pending");
        }
      });
  }

  function askSoon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, DEBOUNCE_MS);
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "product") {
      adaptToProduct();
    }
    askSoon();
  });
  form.addEventListener("input", function (event) {
    if (event.target.name !== "product") {
      askSoon();
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    window.clearTimeout(timer);
    ask();
  });
})();
