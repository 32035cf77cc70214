"""Settings come from the environment; bad values fail loudly at start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k" * 20 + "Q7x!pZ2@mN5#vB8$cX1%zL4^" + "w" * 20
PROBE = """
import json, django
from django.conf import settings
django.setup()
from django_q.conf import Conf
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "db_options": settings.DATABASES["default"].get("OPTIONS", {}),
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "q_sync": Conf.SYNC, "q_redis": settings.Q_CLUSTER.get("redis"),
    "hosts": settings.ALLOWED_HOSTS, "debug": settings.DEBUG,
    "max_training_time": settings.MAX_TRAINING_TIME, "batch": settings.DEFAULT_BATCH_SIZE,
    "registration": settings.ALLOW_REGISTRATION, "key_len": len(settings.SECRET_KEY),
}))
"""


def run_with(env: dict[str, str], code: str = PROBE, args: list[str] | None = None):
    base = {k: v for k, v in os.environ.items() if not _configures_us(k)}
    base["DJANGO_SETTINGS_MODULE"] = "medilytica_site.settings"
    command = [sys.executable, *(args or ["-c", code])]
    return subprocess.run(
        command, cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def _configures_us(name: str) -> bool:
    """Variables of the caller's shell that would change what a test sees."""
    return (
        name in {"REDIS_URL", "DATABASE_URL", "DEBUG", "STORAGE_BACKEND", "SECRET_KEY"}
        or name.startswith("AWS_")
        or name.endswith("_FILE")
    )


def probe(env: dict[str, str]) -> dict:
    result = run_with(env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_defaults_are_sqlite_in_wal_mode_in_memory_layer_and_sync_queue():
    conf = probe({})
    assert conf["engine"] == "django.db.backends.sqlite3"
    assert conf["db_name"].endswith("medilytica.db")
    assert conf["db_options"]["transaction_mode"] == "IMMEDIATE"
    assert conf["db_options"]["timeout"] >= 20
    assert "journal_mode=WAL" in conf["db_options"]["init_command"]
    assert conf["layer"] == "channels.layers.InMemoryChannelLayer"
    assert conf["q_sync"] is True
    assert conf["hosts"] == ["localhost", "127.0.0.1", "[::1]"]
    assert conf["max_training_time"] == 3600 and conf["batch"] == 64
    assert conf["registration"] is True


def test_database_url_and_redis_url_switch_backends():
    conf = probe(
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "MAX_TRAINING_TIME": "60",
            "ALLOW_REGISTRATION": "false",
        }
    )
    assert conf["engine"] == "django.db.backends.postgresql"
    assert conf["layer"] == "medilytica_site.channel_layer.RedisPubSubChannelLayer"
    assert conf["q_sync"] is False
    assert conf["q_redis"] == "redis://127.0.0.1:6379/0"
    assert conf["max_training_time"] == 60
    assert conf["registration"] is False


@pytest.mark.parametrize(
    "env, message",
    [
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS must name the hosts"),
        ({"SECRET_KEY": "short"}, "at least 32 bytes"),
        ({"DEBUG": "false"}, "SECRET_KEY (or SECRET_KEY_FILE) must be set"),
        ({"SECRET_KEY_FILE": "/nonexistent/key"}, "cannot be read"),
        ({"MAX_TRAINING_TIME": "soon"}, "invalid literal"),
        ({"STORAGE_BACKEND": "ftp"}, "STORAGE_BACKEND must be 'local' or 's3'"),
        ({"STORAGE_BACKEND": "s3"}, "Set the AWS_STORAGE_BUCKET_NAME environment variable"),
        ({"DATABASE_URL_FILE": "/nonexistent/db"}, "DATABASE_URL_FILE='/nonexistent/db'"),
    ],
)
def test_bad_configuration_fails_loudly(env, message):
    result = run_with(env)
    assert result.returncode != 0
    assert message in result.stderr


def test_secret_key_file_is_read(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(GOOD_KEY + "\n")
    conf = probe({"SECRET_KEY_FILE": str(key_file)})
    assert conf["key_len"] == len(GOOD_KEY)


def test_production_settings_pass_check_deploy():
    result = run_with(
        {"DEBUG": "false", "SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "medilytica.example.org"},
        args=["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


SECRETS_PROBE = """
import json, django
from django.conf import settings
django.setup()
from django.core.files.storage import storages
db = settings.DATABASES["default"]
data = storages["datasets"]
print(json.dumps({
    "debug": settings.DEBUG, "key": settings.SECRET_KEY,
    "db": [db["ENGINE"], db["USER"], db["PASSWORD"], db["HOST"], db["NAME"]],
    "redis": settings.REDIS_URL, "q_redis": settings.Q_CLUSTER.get("redis"),
    "layer_hosts": settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"],
    "storage": [type(data).__name__, data.bucket_name, data.location, data.endpoint_url],
    "aws": [data.access_key, data.secret_key, data.security_token],
    "prefixes": {a: storages[a].location for a in ("models", "results", "default")},
}))
"""


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    """DEBUG=false with S3 storage, PostgreSQL and Redis, every secret in a file only."""
    values = {
        "SECRET_KEY": GOOD_KEY,
        "DATABASE_URL": "postgres://medilytica:db-pa55@db.internal:5432/medilytica",
        "REDIS_URL": "redis://:redis-pa55@redis.internal:6379/0",
        "AWS_ACCESS_KEY_ID": "AKIAFROMFILE",
        "AWS_SECRET_ACCESS_KEY": "secret/from+file",
        "AWS_SESSION_TOKEN": "token-from-file",
    }
    env = {
        "DEBUG": "false",
        "ALLOWED_HOSTS": "medilytica.example.org",
        "CSRF_TRUSTED_ORIGINS": "https://medilytica.example.org",
        "BEHIND_TLS_PROXY": "true",
        "STORAGE_BACKEND": "s3",
        "AWS_STORAGE_BUCKET_NAME": "medilytica-files",
        "AWS_S3_ENDPOINT_URL": "https://s3.example.org",
        "AWS_S3_REGION_NAME": "eu-west-1",
    }
    for name, value in values.items():
        path = tmp_path / name.lower()
        path.write_text(value + "\n")  # editors and `echo` leave a newline
        path.chmod(0o600)
        env[f"{name}_FILE"] = str(path)
    return env


def test_every_secret_can_come_from_a_file(production_env):
    result = run_with(production_env, SECRETS_PROBE)
    assert result.returncode == 0, result.stderr
    conf = json.loads(result.stdout.strip().splitlines()[-1])
    assert conf["debug"] is False
    assert conf["key"] == GOOD_KEY
    assert conf["db"] == [
        "django.db.backends.postgresql",
        "medilytica",
        "db-pa55",
        "db.internal",
        "medilytica",
    ]
    redis_url = "redis://:redis-pa55@redis.internal:6379/0"
    assert conf["redis"] == conf["q_redis"] == conf["layer_hosts"] == redis_url
    assert conf["storage"] == ["S3Storage", "medilytica-files", "data", "https://s3.example.org"]
    assert conf["aws"] == ["AKIAFROMFILE", "secret/from+file", "token-from-file"]
    assert conf["prefixes"] == {"models": "models", "results": "results", "default": "results"}


def test_a_secret_file_wins_over_the_plain_variable(tmp_path):
    url_file = tmp_path / "db"
    url_file.write_text("postgres://u:from-file@127.0.0.1:5432/from_file\n")
    conf = probe(
        {
            "DATABASE_URL": "postgres://u:plain@127.0.0.1:5432/plain",
            "DATABASE_URL_FILE": str(url_file),
        }
    )
    assert conf["engine"] == "django.db.backends.postgresql"
    assert conf["db_name"] == "from_file"


def test_production_settings_with_s3_postgres_and_redis_pass_check_deploy(production_env):
    result = run_with(
        production_env, args=["manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    for secret in ("db-pa55", "redis-pa55", "secret/from+file", GOOD_KEY):
        assert secret not in result.stdout + result.stderr
