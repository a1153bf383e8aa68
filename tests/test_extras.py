"""Optional dependencies: with an extra's packages hidden (as if not installed), the core still works and
whatever needs the extra fails with one line naming it. Each case runs in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from cinesync.extras import EXTRAS, MissingExtraError, extra_of, from_import_error, require

#: makes the named top-level packages unimportable in the child process
HIDE = textwrap.dedent("""
    import sys
    HIDDEN = set(sys.argv[1].split(","))

    class Hide:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HIDDEN:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Hide())
""")


def run(hidden: str, code: str, *args: str) -> subprocess.CompletedProcess:
    script = HIDE + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script, hidden, *args], capture_output=True, text=True,
                          timeout=120)


def test_require_and_the_extra_table() -> None:
    require("numpy", extra="models", what="x")
    with pytest.raises(MissingExtraError, match=r"thing needs the optional dependency no_such_pkg_1: install it with "
                                                r"pip install 'cinesync\[neural\]'"):
        require("no_such_pkg_1", extra="neural", what="thing")
    assert extra_of("torch.nn") == "neural" and extra_of("sqlalchemy") == "service" and extra_of("numpy") is None
    err = ModuleNotFoundError("No module named 'lightgbm'", name="lightgbm")
    assert "cinesync[models]" in str(from_import_error(err, "ranker"))
    other = ModuleNotFoundError("No module named 'zzz'", name="zzz")
    assert from_import_error(other, "x") is other
    assert set(EXTRAS) == {"models", "neural", "content", "reports", "service", "bot"}


def test_the_core_works_without_any_extra() -> None:
    hidden = ",".join(sorted({m for _, mods in EXTRAS.values() for m in mods}))
    r = run(hidden, """
        from cinesync import create, load_dataset
        from cinesync.models.registry import by_family
        from cinesync.data.synthetic import planted
        data = planted()
        model = create("ease", l2=10.0).fit(data)
        print(len(model.recommend(history=data.items.ids_of([0, 1]), k=5)), "classical:", len(by_family("classical")))
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("5 classical:")


@pytest.mark.parametrize("hidden, code, extra", [
    ("torch", "from cinesync import create; create('sasrec')", "neural"),
    ("torch", "import cinesync.models.neural.sasrec", "neural"),
    ("implicit", "from cinesync import create; create('als')", "models"),
    ("lightgbm", """
        from cinesync.models.ensemble.ranker import predict
        predict("", None)
    """, "models"),
    ("sklearn", "import cinesync.models.emcdr", "models"),
    ("sqlalchemy", "import cinesync.store", "service"),
    ("fastapi", "from cinesync.serving.http.app import create_app", "service"),
    ("discord", "import cinesync.serving.bot.client", "bot"),
    ("matplotlib", """
        from cinesync.eval.report import plot
        plot({})
    """, "reports"),
    ("sentence_transformers", """
        from cinesync.content.embeddings import load_encoder
        load_encoder("any")
    """, "content"),
])
def test_a_missing_extra_is_one_clear_line(hidden: str, code: str, extra: str) -> None:
    r = run(hidden, f"""
        from cinesync.extras import MissingExtraError
        try:
{textwrap.indent(textwrap.dedent(code).strip(), " " * 12)}
        except MissingExtraError as e:
            print("MISSING:", e)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("MISSING:") and f"pip install 'cinesync[{extra}]'" in r.stdout, r.stdout


def test_the_command_line_names_the_extra() -> None:
    r = run("fastapi", """
        import sys
        from cinesync.cli.main import main
        sys.argv = ["cinesync", "serve", "--home", sys.argv[2]]
        main()
    """, "/nonexistent-home")
    assert r.returncode == 2
    assert "pip install 'cinesync[service]'" in r.stderr and "Traceback" not in r.stderr
    models = run("torch", """
        import sys
        from cinesync.cli.main import main
        sys.argv = ["cinesync", "models", "available"]
        main()
    """)
    assert models.returncode == 0, models.stderr
    assert "sasrec" in models.stdout and "cinesync[neural]" in models.stdout and "ease" in models.stdout
