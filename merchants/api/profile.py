# Placeholder until the KYC work fills it in.
from rest_framework.views import APIView


class MerchantProfileApi(APIView):
    pass
