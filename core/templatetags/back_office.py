"""``{% back_office_pages as pages %}``: the back-office pages the signed-in officer may open (``core.admin.pages``)."""

from django import template

from core.admin.pages import BackOfficeLink, back_office_links

register = template.Library()


@register.simple_tag(takes_context=True)
def back_office_pages(context) -> list[BackOfficeLink]:
    request = context.get("request")
    if request is None:
        return []
    return back_office_links(user=request.user)
