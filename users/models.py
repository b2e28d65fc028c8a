from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower

from users.validators import EMAIL_MAX_LENGTH, validate_timezone


class UserManager(DjangoUserManager):
    """Users log in with their email address; there is no username."""

    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        return (email or "").strip().lower()

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, email):
        return self.get(email=self.normalize_email(email))


class User(AbstractUser):
    username = None
    email = models.EmailField("email address", unique=True, max_length=EMAIL_MAX_LENGTH)
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text="IANA time zone name used to show times in reminders.",
    )
    email_verified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the owner of the address followed the verification link; null until "
        "then, and again after an email change. No reminder is sent to an unverified address.",
    )

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="users_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email


class ApiTokenScope(models.TextChoices):
    READ = "READ", "Read"
    WRITE = "WRITE", "Write"


class ApiToken(models.Model):
    """A personal access token for scripts and services (Authorization: Bearer ...).

    Only a SHA-256 digest of the secret is stored: the secret itself is shown once, at
    creation. The secret carries 256 random bits, so a fast digest is as safe as a slow
    password hash here and keeps authentication well under a millisecond.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=16, help_text="The secret's first characters, to recognise it in lists."
    )
    secret_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list, help_text="READ, and WRITE for mutations.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(
        null=True, blank=True, help_text="Updated at most once a minute."
    )

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="apitoken_user_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    @property
    def can_write(self) -> bool:
        return ApiTokenScope.WRITE in self.scopes
