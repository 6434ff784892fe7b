"""Fixed lists a merchant picks from: industries (with codes) and provincial-level divisions."""

from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _


class Industry(TextChoices):
    # Codes follow the sections of GB/T 4754-2017 (national industry classification) that small
    # merchants on a payment platform belong to, with a two-digit division for the common trades.
    GROCERY = "F5211", _("Grocery and convenience stores")
    SUPERMARKET = "F5212", _("Supermarkets")
    APPAREL = "F5232", _("Clothing and footwear retail")
    ELECTRONICS = "F5273", _("Electronics and phone retail")
    PHARMACY = "F5251", _("Pharmacies")
    ONLINE_RETAIL = "F5292", _("Online retail")
    RESTAURANT = "H6210", _("Restaurants")
    FAST_FOOD = "H6220", _("Fast food and snacks")
    BEVERAGE = "H6231", _("Tea and coffee shops")
    HOTEL = "H6110", _("Hotels and guesthouses")
    BEAUTY = "O8070", _("Hairdressing and beauty")
    REPAIR = "O8111", _("Vehicle repair")
    LAUNDRY = "O8030", _("Laundry")
    EDUCATION = "P8391", _("Tutoring and training")
    LOGISTICS = "G5430", _("Courier and delivery")
    WHOLESALE = "F5123", _("Food wholesale")


class Province(TextChoices):
    # GB/T 2260 administrative division codes.
    BEIJING = "110000", _("Beijing")
    TIANJIN = "120000", _("Tianjin")
    HEBEI = "130000", _("Hebei")
    SHANXI = "140000", _("Shanxi")
    INNER_MONGOLIA = "150000", _("Inner Mongolia")
    LIAONING = "210000", _("Liaoning")
    JILIN = "220000", _("Jilin")
    HEILONGJIANG = "230000", _("Heilongjiang")
    SHANGHAI = "310000", _("Shanghai")
    JIANGSU = "320000", _("Jiangsu")
    ZHEJIANG = "330000", _("Zhejiang")
    ANHUI = "340000", _("Anhui")
    FUJIAN = "350000", _("Fujian")
    JIANGXI = "360000", _("Jiangxi")
    SHANDONG = "370000", _("Shandong")
    HENAN = "410000", _("Henan")
    HUBEI = "420000", _("Hubei")
    HUNAN = "430000", _("Hunan")
    GUANGDONG = "440000", _("Guangdong")
    GUANGXI = "450000", _("Guangxi")
    HAINAN = "460000", _("Hainan")
    CHONGQING = "500000", _("Chongqing")
    SICHUAN = "510000", _("Sichuan")
    GUIZHOU = "520000", _("Guizhou")
    YUNNAN = "530000", _("Yunnan")
    TIBET = "540000", _("Tibet")
    SHAANXI = "610000", _("Shaanxi")
    GANSU = "620000", _("Gansu")
    QINGHAI = "630000", _("Qinghai")
    NINGXIA = "640000", _("Ningxia")
    XINJIANG = "650000", _("Xinjiang")


class KycState(TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    VERIFIED = "verified", _("Verified")
    REJECTED = "rejected", _("Rejected")
    SUSPENDED = "suspended", _("Suspended")


class OcrStatus(TextChoices):
    NONE = "none", _("Not read")
    PENDING = "pending", _("Being read")
    DONE = "done", _("Read")
    UNAVAILABLE = "unavailable", _("Could not be read")


class DocumentKind(TextChoices):
    BUSINESS_LICENCE = "business_licence", _("Business licence")
    ID_FRONT = "id_front", _("ID card, front")
    ID_BACK = "id_back", _("ID card, back")


class SalesSource(TextChoices):
    """Where a day's sales figures came from; only the platform's own feed is the credit file."""

    PLATFORM = "platform", _("Platform settlement feed")
    DECLARED = "declared", _("Declared by the merchant")
