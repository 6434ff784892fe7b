/* The application screens, live.
 *
 * Screen 2 (#apply-form): as the merchant changes the amount, term or method, ask POST /api/v1/quotes/ for the
 * product and redraw the APR, the totals and the schedule. Without this script the form still works: "Update the
 * quote" submits by GET and the server renders the same quote. Requests are debounced, and a stale answer never
 * overwrites a newer one; field errors come from the API's `fields` and go under the field they name.
 *
 * As the amount is typed, an amount above what the merchant can borrow now (the credit line on the page) is flagged
 * under the field with what happens to it; the server renders the same message without this script.
 *
 * Screen 3 (#confirm-form): the submit button is disabled once pressed. A second click would do no harm (the
 * form's token names one application), but the merchant should see that the first one is on its way.
 */
(function () {
  "use strict";

  var confirmForm = document.getElementById("confirm-form");
  if (confirmForm) {
    confirmForm.addEventListener("submit", function () {
      var button = confirmForm.querySelector("button[type=submit]");
      if (button) {
        window.setTimeout(function () { button.disabled = true; }, 0);
      }
    });
  }

  var form = document.getElementById("apply-form");
  if (!form || !window.fetch) {
    return;
  }
  var page = document.getElementById("apply") ? document : form;
  var DEBOUNCE_MS = 300;
  var FIELDS = ["amount", "term", "repayment_method"];
  var timer = null;
  var inFlight = null;

  function control(name) {
    return form.elements.namedItem(name);
  }

  // Amounts arrive as strings ("53309.27"); shown as the server shows them: thousands grouped, in both languages.
  function money(text) {
    if (text === null || text === undefined) {
      return "-";
    }
    var parts = String(text).split(".");
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.length > 1 ? whole + "." + parts[1] : whole;
  }

  function cell(text, className) {
    var td = document.createElement("td");
    if (className) {
      td.className = className;
    }
    td.textContent = text;
    return td;
  }

  function showErrors(fields, message) {
    FIELDS.concat(["__all__"]).forEach(function (name) {
      var list = form.querySelector('[data-errors-for="' + name + '"]');
      if (list) {
        list.replaceChildren();
      }
    });
    Object.keys(fields).forEach(function (name) {
      var list = form.querySelector('[data-errors-for="' + name + '"]') ||
        form.querySelector('[data-errors-for="__all__"]');
      fields[name].forEach(function (text) {
        var item = document.createElement("li");
        item.textContent = text;
        list.appendChild(item);
      });
    });
    if (message && !Object.keys(fields).length) {
      var general = form.querySelector('[data-errors-for="__all__"]');
      var item = document.createElement("li");
      item.textContent = message;
      general.appendChild(item);
    }
    FIELDS.forEach(function (name) {
      var input = control(name);
      if (input && input.setAttribute) {
        if (fields[name]) {
          input.setAttribute("aria-invalid", "true");
        } else {
          input.removeAttribute("aria-invalid");
        }
      }
    });
  }

  function setShown(hasQuote) {
    page.querySelectorAll('[data-when="quote"]').forEach(function (node) { node.hidden = !hasQuote; });
    page.querySelectorAll('[data-when="no-quote"]').forEach(function (node) { node.hidden = hasQuote; });
  }

  function drawQuote(quote) {
    page.querySelectorAll('[data-when="premium"]').forEach(function (node) {
      node.hidden = !(quote.insurance_premium && Number(quote.insurance_premium) > 0);
    });
    page.querySelectorAll('[data-quote="apr"]').forEach(function (node) { node.textContent = quote.apr; });
    ["amount", "net_disbursement", "insurance_premium", "total_interest", "total_fees", "total_cost_of_credit", "total_repayable"]
      .forEach(function (name) {
        page.querySelectorAll('[data-quote="' + name + '"]').forEach(function (node) {
          node.textContent = money(quote[name]);
        });
      });
    var schedule = page.querySelector("[data-schedule]");
    if (schedule) {
      schedule.replaceChildren();
      quote.schedule.forEach(function (line) {
        var tr = document.createElement("tr");
        tr.appendChild(cell(line.number));
        tr.appendChild(cell(line.due_date));
        ["principal", "interest", "fee", "payment", "balance"].forEach(function (name) {
          tr.appendChild(cell(money(line[name]), "num"));
        });
        schedule.appendChild(tr);
      });
    }
    setShown(true);
  }

  // People type "50,000" or "50 000"; the API takes "50000" (it refuses separators from programs), so the page
  // sends what was meant.
  function typedAmount(text) {
    return String(text).replace(/[,，\s]/g, "");
  }

  function requestBody() {
    var body = { product: form.dataset.product, amount: typedAmount(control("amount").value) };
    if (control("term")) {
      body.term = control("term").value;
    }
    if (control("repayment_method") && control("repayment_method").value) {
      body.repayment_method = control("repayment_method").value;
    }
    if (form.dataset.averageDailySales) {
      body.average_daily_sales = form.dataset.averageDailySales;
    }
    return body;
  }

  function rememberInAddress() {
    // The address says what is on screen, so a reload (or the way back from screen 3) shows the same terms.
    var params = new URLSearchParams();
    FIELDS.forEach(function (name) {
      if (control(name)) {
        params.set(name, control(name).value);
      }
    });
    window.history.replaceState(null, "", window.location.pathname + "?" + params.toString());
  }

  function ask() {
    rememberInAddress();
    if (inFlight) {
      inFlight.abort();
    }
    var controller = new AbortController();
    inFlight = controller;
    form.classList.add("pending");
    fetch(form.dataset.quoteUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(requestBody()),
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
          setShown(false);
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
          form.classList.remove("pending");
        }
      });
  }

  // Amounts compared in whole fen (BigInt), never as binary floating point.
  var aboveLine = form.querySelector("[data-above-line]");

  function fen(text) {
    var match = /^\s*(\d{1,13})(?:\.(\d{1,2}))?\s*$/.exec(text || "");
    if (!match) {
      return null;
    }
    return BigInt(match[1]) * BigInt(100) + BigInt((match[2] || "").padEnd(2, "0"));
  }

  function flagAboveLine() {
    if (!aboveLine || !window.BigInt || !form.dataset.lineAvailable || !form.dataset.textAboveLine) {
      return;
    }
    var amount = fen(typedAmount(control("amount").value));
    var line = fen(form.dataset.lineAvailable);
    var above = amount !== null && line !== null && amount > line;
    aboveLine.hidden = !above;
    if (above) {
      var cents = String(amount % BigInt(100)).padStart(2, "0");
      var shown = form.dataset.moneyPattern.replace("{}", money(String(amount / BigInt(100)) + "." + cents));
      aboveLine.textContent = form.dataset.textAboveLine.split("{amount}").join(shown);
    }
  }

  function askSoon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, DEBOUNCE_MS);
  }

  form.addEventListener("change", askSoon);
  form.addEventListener("input", askSoon);
  form.addEventListener("input", flagAboveLine);
  var update = form.querySelector("[data-update]");
  if (update) {
    update.addEventListener("click", function (event) {
      event.preventDefault();
      window.clearTimeout(timer);
      ask();
    });
  }
})();
