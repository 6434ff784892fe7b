# Placeholder until the sales-history work fills it in.
from rest_framework.views import APIView


class SalesImportApi(APIView):
    pass
