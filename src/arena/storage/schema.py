"""Every table the arena stores, on one ``MetaData``: importing this module registers them all.

The tables are declared in one module per kind of record (``models``, ``auth_models``,
``bench_models``, ``audit_models``, ``process_models``), and SQLAlchemy learns of a table only once its module is
imported. ``db.py`` imports this module, so any code that can open a ``Database`` sees the whole
schema, and so does ``reencrypt.py``, which walks every encrypted column.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import MetaData

# Names from the modules, not `from arena.storage import <module>`: the package imports db.py,
# which imports this module, so naming the package here would close an import circle.
from arena.storage.audit_models import AuditEntry
from arena.storage.auth_models import ApiToken, ConversationShare, IdCounter, User, UserSession
from arena.storage.battle_models import BattleCategory, BattleChange, BattleState, StoredBattle
from arena.storage.bench_models import BenchItem, BenchJudgment, BenchRun
from arena.storage.models import Base, Conversation, ConversationInstance, Instance, Judgment, Response, Turn, Vote
from arena.storage.oidc_models import OidcIdentity, OidcLogin
from arena.storage.process_models import ServerProcess

# Every mapped class, one per table, by the module that declares it.
MAPPED_CLASSES: Final[tuple[type[Base], ...]] = (
    # models: the arena's own records
    Instance,
    Conversation,
    ConversationInstance,
    Turn,
    Response,
    Vote,
    Judgment,
    # auth_models: accounts and who may see what
    User,
    IdCounter,
    UserSession,
    ApiToken,
    ConversationShare,
    # bench_models: benchmark runs
    BenchRun,
    BenchItem,
    BenchJudgment,
    # audit_models: the audit log
    AuditEntry,
    # process_models: the server processes sharing the database
    ServerProcess,
    # oidc_models: single sign-on identities and logins under way
    OidcIdentity,
    OidcLogin,
    # battle_models: the battles the leaderboard aggregates, kept in step with the signals
    BattleCategory,
    StoredBattle,
    BattleChange,
    BattleState,
)
metadata: Final[MetaData] = Base.metadata
