"""`keel seed`: the admin (username `admin`) always; with `demo`, an operator, three badges,
three firmware versions, the device's modules, a few error codes, the config centre's keys
(global, module-wide and one badge's) with a template, and for the console's fleet pages a day
of the first badge's heartbeats and its status, a week of logs and two alert rules with one
standing alert. Idempotent: rows are
matched by their unique fields, so a second run adds nothing. Seeded devices get a random
secret: give a real badge its credentials by registering it through the API."""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.badge.models import (
    Alert,
    AlertRule,
    Config,
    ConfigTemplate,
    Device,
    DeviceStatus,
    ErrorCode,
    ErrorLog,
    Heartbeat,
    Module,
    User,
    Version,
)
from keel.apps.badge.schemas import Role, UserCreate
from keel.apps.badge.schemas.configs import ConfigItem, TemplateCreate
from keel.apps.badge.services import accounts, configs, crypto
from keel.core.db import utcnow
from keel.settings import Settings

DEMO_OPERATOR = ("operator", "operator@example.com", "password123")
DEVICES = [
    ("luna_badge_001", "Luna Badge 001", "00:11:22:33:44:01", "1.0.0"),
    ("luna_badge_002", "Luna Badge 002", "00:11:22:33:44:02", "1.0.0"),
    ("luna_badge_003", "Luna Badge 003", "00:11:22:33:44:03", "1.1.0"),
]
VERSIONS = [
    ("1.0.0", "stable", "First release."),
    ("1.1.0", "stable", "Faster detection, quieter fan."),
    ("1.2.0", "beta", "Whisper large model."),
]
MODULES = [
    {
        "module_name": "yolo",
        "module_type": "vision",
        "module_version": "2.1.0",
        "description": "Object detection",
        "dependencies": {},
        "config_schema": {
            "type": "object",
            "properties": {"detection_interval": {"type": "integer", "minimum": 1, "maximum": 60}},
        },
    },
    {
        "module_name": "whisper",
        "module_type": "speech",
        "module_version": "1.3.0",
        "description": "Speech recognition",
        "dependencies": {"tts": ">=1.0.0"},
        "config_schema": {
            "type": "object",
            "properties": {"language": {"type": "string", "enum": ["zh", "en"]}},
        },
    },
    {
        "module_name": "tts",
        "module_type": "speech",
        "module_version": "1.1.0",
        "description": "Text to speech",
        "dependencies": {},
        "config_schema": {
            "type": "object",
            "properties": {"volume": {"type": "integer", "minimum": 0, "maximum": 100}},
        },
    },
]
ERROR_CODES = [
    (
        "E1001",
        "error",
        "yolo",
        "摄像头无法打开",
        "Camera cannot be opened",
        "检查摄像头排线",
        "Check the camera cable",
    ),
    (
        "E2001",
        "warning",
        "whisper",
        "麦克风音量过低",
        "Microphone level too low",
        "靠近麦克风说话",
        "Speak closer",
    ),
    (
        "E9001",
        "critical",
        None,
        "温度过高",
        "Temperature too high",
        "立即关机冷却",
        "Power off and let it cool",
    ),
]

# (device_id, module_name, key, type, value): global keys, module-wide ones, one badge's own.
CONFIGS = [
    (None, None, "heartbeat_interval", "integer", "30"),
    (None, None, "log_level", "string", "info"),
    (None, "yolo", "detection_interval", "integer", "5"),
    (None, "whisper", "language", "string", "zh"),
    ("luna_badge_001", "tts", "volume", "integer", "60"),
]
TEMPLATES = [
    {
        "name": "安静模式",
        "description": "会议与夜间：降低音量，放慢检测。",
        "items": [
            {"config_key": "volume", "config_type": "integer", "config_value": "20", "module_name": "tts"},
            {
                "config_key": "detection_interval",
                "config_type": "integer",
                "config_value": "15",
                "module_name": "yolo",
            },
        ],
    },
]


async def _ensure_user(session: AsyncSession, username: str, email: str, password: str, role: Role) -> None:
    if (await session.execute(select(User.id).where(User.username == username))).first() is None:
        await accounts.create_user(
            session, UserCreate(username=username, email=email, password=password, role=role)
        )


async def seed(session: AsyncSession, settings: Settings, *, demo: bool) -> None:
    await _ensure_user(session, "admin", settings.admin_email, settings.admin_password, Role.admin)
    if demo:
        await _demo(session, settings)


async def _demo(session: AsyncSession, settings: Settings) -> None:
    await _ensure_user(session, *DEMO_OPERATOR, Role.user)
    known = set((await session.scalars(select(Device.device_id))).all())
    for device_id, name, mac, software in DEVICES:
        if device_id not in known:
            secret = crypto.encrypt(settings.secret_key, secrets.token_urlsafe(32))
            session.add(
                Device(
                    device_id=device_id,
                    device_name=name,
                    device_type="luna_badge",
                    hardware_version="v1.0",
                    software_version=software,
                    mac_address=mac,
                    secret_encrypted=secret,
                )
            )
    numbers = set((await session.scalars(select(Version.version_number))).all())
    for number, kind, notes in VERSIONS:
        if number not in numbers:
            # No firmware file: listed, never offered by the update check until one is published.
            session.add(
                Version(
                    version_number=number,
                    version_type=kind,
                    release_notes=notes,
                    checksum=hashlib.sha256(number.encode()).hexdigest(),
                    released_at=utcnow(),
                )
            )
    names = set((await session.scalars(select(Module.module_name))).all())
    session.add_all(Module(**module) for module in MODULES if module["module_name"] not in names)
    codes = set((await session.scalars(select(ErrorCode.code))).all())
    session.add_all(
        ErrorCode(code=c, level=lv, module_name=m, message_zh=mz, message_en=me, guide_zh=gz, guide_en=ge)
        for c, lv, m, mz, me, gz, ge in ERROR_CODES
        if c not in codes
    )
    await session.flush()
    await _demo_configs(session, settings)
    await _demo_fleet(session)


async def _demo_configs(session: AsyncSession, settings: Settings) -> None:
    """Through the config centre's service, so each key has its first version in its history."""
    have = set((await session.execute(select(Config.device_id, Config.module_name, Config.config_key))).all())
    for device_id, module_name, key, kind, value in CONFIGS:
        if (device_id, module_name, key) not in have:
            item = ConfigItem(config_key=key, config_type=kind, config_value=value, module_name=module_name)
            await configs.set_config(
                session, item, device_id=device_id, actor="seed", change="set", secret_key=settings.secret_key
            )
    names = set((await session.scalars(select(ConfigTemplate.name))).all())
    for template in TEMPLATES:
        if template["name"] not in names:
            await configs.create_template(session, TemplateCreate.model_validate(template))


# (device, days and hours ago, level, module, code, message): a week of what the badges reported.
DEMO_LOGS = [
    ("luna_badge_001", 6, 9, "info", "yolo", "", "Detection model loaded"),
    ("luna_badge_001", 5, 14, "warning", "whisper", "E2001", "Microphone level too low"),
    ("luna_badge_002", 4, 10, "error", "yolo", "E1001", "Camera cannot be opened"),
    ("luna_badge_003", 3, 16, "info", "tts", "", "Voice pack updated"),
    ("luna_badge_002", 2, 11, "critical", None, "E9001", "Temperature too high: 81.5 C"),
    ("luna_badge_002", 2, 11, "critical", None, "E9001", "Temperature too high: 83.0 C"),
    ("luna_badge_001", 1, 8, "warning", "whisper", "E2001", "Microphone level too low"),
    ("luna_badge_003", 0, 7, "error", "yolo", "E1001", "Camera cannot be opened"),
]
DEMO_RULES = [
    ("Badge offline for 10 minutes", "device_offline", 1, 10),
    ("Two critical logs in 5 minutes", "critical_logs", 2, 5),
]


async def _demo_fleet(session: AsyncSession) -> None:
    """Each part only when there is none yet: the first badge's heartbeats and status, the logs,
    the rules by name, and the critical-logs rule's alert."""
    now = utcnow()
    await session.flush()
    first = DEVICES[0][0]
    if (
        await session.execute(select(Heartbeat.id).where(Heartbeat.device_id == first).limit(1))
    ).first() is None:
        for n in range(24):  # hourly over the last day, the newest just now
            moment = now - timedelta(hours=23 - n)
            session.add(
                Heartbeat(
                    device_id=first,
                    occurred_at=moment,
                    received_at=moment,
                    status="online",
                    cpu_usage=30.0 + n % 5 * 4,
                    memory_usage=55.0 + n % 3 * 3,
                    temperature=40.0 + n % 4,
                )
            )
        session.add(
            DeviceStatus(
                device_id=first,
                occurred_at=now,
                received_at=now,
                modules={"yolo": {"status": "running", "version": "2.1.0"}, "whisper": {"status": "idle"}},
                performance={"battery": 76, "storage_free_mb": 2048, "uptime_seconds": 86_400},
            )
        )
        device = (await session.execute(select(Device).where(Device.device_id == first))).scalar_one()
        device.last_heartbeat = now
        device.status = "online"
    if (await session.execute(select(ErrorLog.id).limit(1))).first() is None:
        session.add_all(
            ErrorLog(
                device_id=device_id,
                occurred_at=now - timedelta(days=days, hours=hours),
                error_level=level,
                module_name=module,
                error_code=code,
                error_message=message,
            )
            for device_id, days, hours, level, module, code, message in DEMO_LOGS
        )
    named = set((await session.scalars(select(AlertRule.name))).all())
    session.add_all(
        AlertRule(name=name, kind=kind, threshold=threshold, window_minutes=window)
        for name, kind, threshold, window in DEMO_RULES
        if name not in named
    )
    await session.flush()
    rule = (
        await session.execute(select(AlertRule.id).where(AlertRule.name == DEMO_RULES[1][0]))
    ).scalar_one()
    if (await session.execute(select(Alert.id).where(Alert.rule_id == rule).limit(1))).first() is None:
        session.add(
            Alert(
                rule_id=rule,
                device_id=DEVICES[1][0],
                message="2 critical logs within 5 minutes",
                created_at=now - timedelta(days=2),
            )
        )
    await session.flush()
