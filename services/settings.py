"""One typed settings object, built once from the environment and `.streamlit/secrets.toml`.

The environment wins over the secrets file, so a deployment can override a single key
without editing files. Nothing here imports streamlit: `manage.py` and the tests use it too.
"""
from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the key."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    public_url: str
    secret_key: str | None
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None
    smtp_security: str
    mail_from: str | None
    send_throttle_seconds: float
    smtp_timeout: float = 30.0
    send_retry_seconds: float = 10.0  # first back-off after a server-level failure; doubles
    send_max_attempts: int = 8
    embedded_sender: bool = True  # the app process runs the sender thread itself
    # reverse proxies whose X-Forwarded-For / X-Real-IP name the client (services/clientaddr.py)
    trusted_proxies: tuple[IPNetwork, ...] = ()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def parse_trusted_proxies(value) -> tuple[IPNetwork, ...]:
    """KVORUM_TRUSTED_PROXIES: addresses or networks (CIDR), separated by commas or spaces, or a TOML list."""
    items = value if isinstance(value, (list, tuple)) else str(value or "").replace(",", " ").split()
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError as exc:
            raise SettingsError(f"KVORUM_TRUSTED_PROXIES: «{item}» — не адрес и не сеть "
                                "(пример: 127.0.0.1, 10.0.0.0/8)") from exc
    return tuple(networks)


def _secrets_file() -> dict:
    path = Path(os.environ.get("KVORUM_SECRETS_FILE", PROJECT_ROOT / ".streamlit" / "secrets.toml"))
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"Файл настроек {path} содержит ошибку: {exc}") from exc


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    secrets = _secrets_file()

    def get(key: str, default=None):
        if env.get(key) not in (None, ""):
            return env[key]
        if key in secrets and secrets[key] not in (None, ""):
            return secrets[key]
        return default

    data_dir = Path(get("KVORUM_DATA_DIR", PROJECT_ROOT / "data")).resolve()
    database_url = get("DATABASE_URL") or f"sqlite:///{data_dir / 'kvorum.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]

    security = str(get("SMTP_SECURITY", "starttls")).lower()
    if security not in ("ssl", "starttls", "none"):
        raise SettingsError("SMTP_SECURITY должен быть одним из: ssl, starttls, none")
    try:
        port = int(get("SMTP_PORT", 465 if security == "ssl" else 587))
    except ValueError as exc:
        raise SettingsError("SMTP_PORT должен быть числом") from exc
    try:
        throttle = float(get("SMTP_THROTTLE_SECONDS", 0))
    except ValueError as exc:
        raise SettingsError("SMTP_THROTTLE_SECONDS должен быть числом") from exc

    try:
        timeout = float(get("SMTP_TIMEOUT", 30))
        retry = float(get("SEND_RETRY_SECONDS", 10))
        attempts = int(get("SEND_MAX_ATTEMPTS", 8))
    except ValueError as exc:
        raise SettingsError("SMTP_TIMEOUT, SEND_RETRY_SECONDS и SEND_MAX_ATTEMPTS должны быть числами") from exc
    if get("SMTP_USER") and not get("SMTP_PASSWORD"):
        raise SettingsError("Задан SMTP_USER, но не задан SMTP_PASSWORD: укажите пароль почтового ящика")

    trusted_proxies = parse_trusted_proxies(get("KVORUM_TRUSTED_PROXIES", ""))

    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        public_url=str(get("PUBLIC_URL", "http://localhost:8501")).rstrip("/"),
        secret_key=get("SECRET_KEY"),
        smtp_host=get("SMTP_HOST"),
        smtp_port=port,
        smtp_user=get("SMTP_USER"),
        smtp_password=get("SMTP_PASSWORD"),
        smtp_security=security,
        mail_from=get("MAIL_FROM"),
        send_throttle_seconds=throttle,
        smtp_timeout=timeout,
        send_retry_seconds=retry,
        send_max_attempts=max(attempts, 1),
        embedded_sender=str(get("KVORUM_EMBEDDED_SENDER", "1")).lower() not in ("0", "false", "no"),
        trusted_proxies=trusted_proxies,
    )
