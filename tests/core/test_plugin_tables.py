"""A third-party plugin adds its own table and Alembic branch; `tierflow db` applies it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from engine.db import create_db_engine
from tests.core.test_plugins import make_distribution

TIERFLOW = Path(sys.executable).with_name("tierflow")

MODELS = """
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column
from engine.model import Base, IdMixin

class Printer(IdMixin, Base):
    __tablename__ = "printers_printer"
    name: Mapped[str] = mapped_column(String(100), unique=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
"""

PLUGIN = """
from pathlib import Path
from engine.contrib import MigrationBranch
from engine.hookspecs import hookimpl

@hookimpl
def tierflow_register_models():
    import tf_printers_models
    return [tf_printers_models]

@hookimpl
def tierflow_register_migrations():
    return MigrationBranch("printers", Path(__file__).parent / "printers_migrations")
"""

REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "printers_0001"
down_revision = None
branch_labels = ("printers",)
depends_on = "engine_0001"

def upgrade():
    op.create_table(
        "printers_printer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_printers_printer_team_id_team")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_printers_printer")),
        sa.UniqueConstraint("name", name=op.f("uq_printers_printer_name")),
    )

def downgrade():
    op.drop_table("printers_printer")
"""


def tierflow(*args: str, site: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERFLOW_")}
    env |= {"PYTHONPATH": str(site), "TIERFLOW_DATABASE_URL": url}
    return subprocess.run(
        [str(TIERFLOW), *args, "--data-dir", str(site / "data")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def site(tmp_path: Path) -> Path:
    make_distribution(
        tmp_path,
        "tierflow-printers",
        {"tf_printers": PLUGIN, "tf_printers_models": MODELS},
        {"printers": "tf_printers"},
    )
    (tmp_path / "printers_migrations").mkdir()
    (tmp_path / "printers_migrations" / "printers_0001.py").write_text(REVISION)
    return tmp_path


def test_plugin_table_is_migrated_and_matches_its_model(site: Path, database_url: str) -> None:
    upgraded = tierflow("db", "upgrade", site=site, url=database_url)
    assert upgraded.returncode == 0, upgraded.stderr
    engine = create_db_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"printers_printer", "helpdesk_category", "work_item"} <= tables

    checked = tierflow("db", "check", site=site, url=database_url)
    assert (checked.returncode, checked.stdout) == (0, "The schema matches the models.\n")
    current = tierflow("db", "current", site=site, url=database_url)
    assert "printers_0001" in current.stdout
    assert "(up to date)" in current.stdout


def test_missing_migration_is_reported(site: Path, database_url: str) -> None:
    assert tierflow("db", "upgrade", site=site, url=database_url).returncode == 0
    models = site / "tf_printers_models.py"
    models.write_text(MODELS + "    location: Mapped[str] = mapped_column(String(100))\n")
    checked = tierflow("db", "check", site=site, url=database_url)
    assert checked.returncode == 1
    assert "printers_printer" in checked.stdout
    assert "location" in checked.stdout
    assert "tierflow: error: the schema differs from the models in 1 place(s)" in checked.stderr
