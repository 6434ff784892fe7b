import hashlib

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.roles import OFFICER_ROLES, Role


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields):
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who signs in with an email address: a merchant owner, an officer or a partner's user."""

    username = None
    email = models.EmailField(_("email address"), unique=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email

    def set_password(self, raw_password):
        # Every path that changes a password (allauth's change and reset forms, the admin, changepassword)
        # comes through here; accounts.signals revokes the API tokens once the new password is saved.
        super().set_password(raw_password)
        self.password_changed_unsaved = True

    def has_role(self, role: str) -> bool:
        return self.groups.filter(name=role).exists()

    @property
    def is_officer(self) -> bool:
        """A back-office user: loan officer, senior officer or risk manager (staff status alone is not enough)."""
        return self.is_active and self.is_staff and self.groups.filter(name__in=OFFICER_ROLES).exists()

    @property
    def is_merchant_owner(self) -> bool:
        return self.has_role(Role.MERCHANT_OWNER)

    @property
    def is_partner(self) -> bool:
        return self.has_role(Role.PARTNER)

    def role_names(self) -> list[str]:
        """The user's roles as labels for people, in the order the roles are declared."""
        held = set(self.groups.values_list("name", flat=True))
        return [str(role.label) for role in Role if role.value in held]


class StaffEnrolment(models.Model):
    """A one-time link an administrator gives a staff member to add their first second factor.

    Only the link's hash is stored; the link itself is shown once, to the administrator who issued it.
    """

    user = models.ForeignKey(User, verbose_name=_("staff member"), on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    issued_by = models.ForeignKey(
        User, verbose_name=_("issued by"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    issued_at = models.DateTimeField(_("issued at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("second-factor enrolment link")
        verbose_name_plural = _("second-factor enrolment links")
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"{self.user} · {self.issued_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()
