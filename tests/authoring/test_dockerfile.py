"""The Dockerfile parser, variable substitution, history wording and .dockerignore: tables."""

from __future__ import annotations

from typing import Any

import pytest

from hoist.authoring.context import IgnoreMatcher, go_match, has_wildcards
from hoist.authoring.dockerfile import Instruction, parse_dockerfile, parse_instruction
from hoist.authoring.gofmt import (
    go_duration,
    go_map_keys,
    go_quote,
    go_quote_rune,
    go_quote_slice,
    parse_go_duration,
)
from hoist.authoring.shellwords import ExpansionError, process_word, process_words
from hoist.authoring.stage import StageState
from hoist.authoring.steps import StepContext, apply_step, parse_ports
from hoist.errors import InvalidDockerfile, InvalidInput
from hoist.model.platform import Platform


def only(text: str, **kw: Any) -> Instruction:
    """The single instruction after ``FROM scratch``."""
    stage = parse_dockerfile("FROM scratch\n" + text, **kw).stages[0]
    assert len(stage.instructions) == 1, stage.instructions
    return stage.instructions[0]


# --------------------------------------------------------------------------- instructions

PARSE_CASES: list[tuple[str, dict[str, Any]]] = [
    ("COPY a b /dst/", {"keyword": "COPY", "args": ("a", "b", "/dst/"), "json": False}),
    ('COPY ["a b", "/dst/"]', {"args": ("a b", "/dst/"), "json": True}),
    ("copy a /b", {"keyword": "COPY", "args": ("a", "/b")}),
    ("COPY --from=build --chown=1:2 /x /y", {"flags": (("from", "build"), ("chown", "1:2"))}),
    ("COPY --link a /b", {"flags": (("link", "true"),)}),
    ('COPY --chown="1 2" a /b', {"flags": (("chown", "1 2"),)}),
    ("ADD --chmod=755 a.tar.gz /opt/", {"keyword": "ADD", "flags": (("chmod", "755"),)}),
    ("ENV A=1 B=2", {"pairs": (("A", "1"), ("B", "2"))}),
    ('ENV A="two words" B=x\\ y', {"pairs": (("A", '"two words"'), ("B", "x\\ y"))}),
    ("ENV LEGACY value with spaces", {"pairs": (("LEGACY", "value with spaces"),)}),
    ("ENV A=", {"pairs": (("A", ""),)}),
    ("LABEL a=b c='d e'", {"pairs": (("a", "b"), ("c", "'d e'"))}),
    ("LABEL version 1.0", {"pairs": (("version", "1.0"),)}),
    ("ARG A B=2 C=", {"pairs": (("A", None), ("B", "2"), ("C", ""))}),
    ("CMD echo hello  world", {"args": ("echo hello  world",), "json": False}),
    ('CMD ["echo", "hi"]', {"args": ("echo", "hi"), "json": True}),
    ("CMD [not json", {"args": ("[not json",), "json": False}),
    ("ENTRYPOINT []", {"args": (), "json": True}),
    ('SHELL ["/bin/bash", "-c"]', {"args": ("/bin/bash", "-c"), "json": True}),
    ("EXPOSE 8080 443/udp 80", {"args": ("443/udp", "80", "8080")}),
    ("WORKDIR /my dir", {"args": ("/my dir",)}),
    ("USER app:app", {"args": ("app:app",)}),
    ('VOLUME ["/a", "/b"]', {"args": ("/a", "/b"), "json": True}),
    ("VOLUME /a /b", {"args": ("/a", "/b")}),
    ("STOPSIGNAL SIGTERM", {"args": ("SIGTERM",)}),
    ("MAINTAINER Jane Doe <j@example.com>", {"args": ("Jane Doe <j@example.com>",)}),
    ("HEALTHCHECK NONE", {"args": ("NONE",)}),
    (
        "HEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1",
        {
            "args": ("CMD", "curl -f http://localhost/ || exit 1"),
            "flags": (("interval", "5m"), ("timeout", "3s")),
        },
    ),
    ('HEALTHCHECK CMD ["/bin/check", "-q"]', {"args": ("CMD", "/bin/check", "-q"), "json": True}),
    ("ONBUILD COPY . /app", {"expression": "COPY . /app"}),
    ("COPY a \\\n  b \\\n  /c/", {"args": ("a", "b", "/c/"), "line": 2}),
    ("COPY a \\\n# a comment inside\n\n  /c/", {"args": ("a", "/c/")}),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_instruction(text: str, expected: dict[str, Any]) -> None:
    instr = only(text)
    for key, value in expected.items():
        assert getattr(instr, key) == value, key


def test_onbuild_records_its_trigger_even_run() -> None:
    instr = only("ONBUILD RUN make install")
    assert instr.trigger is not None and instr.trigger.keyword == "RUN"
    assert instr.expression == "RUN make install"


def test_stages_meta_args_and_names() -> None:
    df = parse_dockerfile(
        "# escape=\\\nARG BASE=alpine\nARG TAG\n\nFROM --platform=$BUILDPLATFORM $BASE AS Build\n"
        "COPY . /src\nFROM scratch\nCOPY --from=build /src /\n"
    )
    assert [i.pairs for i in df.meta_args] == [(("BASE", "alpine"),), (("TAG", None),)]
    build, final = df.stages
    assert (build.name, build.base, build.platform, build.line) == (
        "build",
        "$BASE",
        "$BUILDPLATFORM",
        5,
    )
    assert (final.name, final.label, final.index) == (None, "stage-1", 1)
    assert df.find_stage("BUILD") is build and df.find_stage("1") is final
    assert df.find_stage("nope") is None


def test_escape_directive_backtick() -> None:
    df = parse_dockerfile("# escape=`\nFROM scratch\nCOPY a `\n  b C:\\dest\\\n")
    assert df.escape == "`"
    assert df.stages[0].instructions[0].args == ("a", "b", "C:\\dest\\")


def test_directive_after_comment_is_a_comment() -> None:
    df = parse_dockerfile("# hello\n# escape=`\nFROM scratch\nCOPY a \\\n b /\n")
    assert df.escape == "\\"
    assert df.stages[0].instructions[0].args == ("a", "b", "/")


def test_bom_crlf_and_blank_lines() -> None:
    df = parse_dockerfile("\ufeffFROM scratch\r\n\r\n   \r\nENV A=1\r\n")
    assert df.stages[0].instructions[0].pairs == (("A", "1"),)


def test_run_heredoc_body_skipped_when_run_allowed() -> None:
    df = parse_dockerfile("FROM scratch\nRUN <<EOF\nFROM nothing\nEOF\nCOPY a /b\n", allow_run=True)
    assert [i.keyword for i in df.stages[0].instructions] == ["RUN", "COPY"]
    assert df.stages[0].instructions[1].line == 5


def test_parse_instruction_for_onbuild_triggers() -> None:
    assert parse_instruction("COPY . /app", line=3).args == (".", "/app")
    assert parse_instruction("RUN make").keyword == "RUN"


ERROR_CASES = [
    ("FROM scratch\nRUN echo hi\n", 2, "RUN needs a container; hoist builds without one"),
    ("FROM scratch\nCOPY a \\\n b /\nrun make\n", 4, "RUN needs a container"),
    ("FROM scratch\nCOPY <<EOF /x\nhello\nEOF\n", 2, "heredoc"),
    ("FROM scratch\nFOO bar\n", 2, "unknown instruction: FOO"),
    ("ENV A=1\nFROM scratch\n", 1, "no build stage"),
    ("", 0, "file with no instructions"),
    ("ARG A=1\n", 0, "no stages"),
    ("FROM a b\n", 1, "FROM requires either one or three arguments"),
    ("FROM a AS 1x\n", 1, "invalid name for build stage"),
    ("FROM a AS x\nFROM b AS X\n", 2, "duplicate stage name"),
    ("FROM scratch\nCOPY a\n", 2, "requires at least two arguments"),
    ("FROM scratch\nCOPY --bogus a /b\n", 2, "unknown flag: --bogus"),
    ("FROM scratch\nCOPY --from a /b\n", 2, "missing a value on flag: --from"),
    ("FROM scratch\nCOPY --chown=1 --chown=2 a /b\n", 2, "duplicate flag"),
    ("FROM scratch\nCOPY --parents a /b\n", 2, "COPY --parents is not supported"),
    ("FROM scratch\nADD --checksum=sha256:00 a /b\n", 2, "cannot fetch"),
    ("FROM scratch\nENV\n", 2, "ENV requires at least one argument"),
    ("FROM scratch\nENV A\n", 2, "ENV must have two arguments"),
    ("FROM scratch\nENV A=1 B\n", 2, "can't find = in 'B'"),
    ("FROM scratch\nENV =1\n", 2, "ENV names can not be blank"),
    ("FROM scratch\nARG =1\n", 2, "ARG names can not be blank"),
    ("FROM scratch\nSHELL /bin/sh -c\n", 2, "SHELL requires the arguments to be in JSON form"),
    ('FROM scratch\nCMD ["a", 1]\n', 2, "comprised of strings only"),
    ("FROM scratch\nWORKDIR\n", 2, "WORKDIR requires exactly one argument"),
    ("FROM scratch\nEXPOSE\n", 2, "EXPOSE requires at least one argument"),
    ("FROM scratch\nHEALTHCHECK NONE x\n", 2, "HEALTHCHECK NONE takes no arguments"),
    ("FROM scratch\nHEALTHCHECK RUN x\n", 2, "Unknown type"),
    ("FROM scratch\nHEALTHCHECK CMD\n", 2, "Missing command after HEALTHCHECK CMD"),
    ("FROM scratch\nHEALTHCHECK --interval=10us CMD x\n", 2, "cannot be less than 1ms"),
    ("FROM scratch\nHEALTHCHECK --interval=soon CMD x\n", 2, "invalid duration"),
    ("FROM scratch\nHEALTHCHECK --retries=-1 CMD x\n", 2, "--retries cannot be negative"),
    ("FROM scratch\nONBUILD ONBUILD COPY a b\n", 2, "Chaining ONBUILD"),
    ("FROM scratch\nONBUILD FROM x\n", 2, "FROM isn't allowed as an ONBUILD trigger"),
    ("# escape=x\nFROM scratch\n", 1, "invalid escape token"),
    ("# escape=`\n# escape=\\\nFROM scratch\n", 2, "only one escape parser directive"),
]


@pytest.mark.parametrize(("text", "line", "message"), ERROR_CASES, ids=[c[2] for c in ERROR_CASES])
def test_errors_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(InvalidDockerfile) as info:
        parse_dockerfile(text)
    assert info.value.line == line
    assert message in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, InvalidInput)
    assert str(info.value).startswith(f"Dockerfile:{line}: " if line else "Dockerfile: ")


# --------------------------------------------------------------------------- substitution

ENV = {"A": "apple", "EMPTY": "", "SP": "a b", "P": "/usr/bin"}
EXPAND_CASES = [
    ("$A", "apple"),
    ("${A}", "apple"),
    ("x${A}y", "xappley"),
    ("$A-$A", "apple-apple"),
    ("$UNSET", ""),
    ("${UNSET:-dflt}", "dflt"),
    ("${EMPTY:-dflt}", "dflt"),
    ("${EMPTY-dflt}", ""),
    ("${UNSET-dflt}", "dflt"),
    ("${A:-dflt}", "apple"),
    ("${A:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET:+alt}", ""),
    ("${UNSET:-$A}", "apple"),
    ("\\$A", "$A"),
    ("'$A'", "$A"),
    ('"$A b"', "apple b"),
    ('"\\$A"', "$A"),
    ('"a\\b"', "a\\b"),
    ("a\\ b", "a b"),
    ("$", "$"),
    ("$/x", "$/x"),
    ("$P:/bin", "/usr/bin:/bin"),
    ("${A}_x", "apple_x"),
    ("$A_x", ""),
]


@pytest.mark.parametrize(("word", "expected"), EXPAND_CASES, ids=[c[0] for c in EXPAND_CASES])
def test_process_word(word: str, expected: str) -> None:
    assert process_word(word, ENV) == expected


def test_backtick_escape() -> None:
    assert process_word("`$A", ENV, "`") == "$A"
    assert process_word("C:\\path", ENV, "`") == "C:\\path"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("$SP c", ["a", "b", "c"]), ('"$SP" c', ["a b", "c"]), ("80 443/udp", ["80", "443/udp"])],
)
def test_process_words_splits_expansions(text: str, expected: list[str]) -> None:
    assert process_words(text, ENV) == expected


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${A", "missing '}'"),
        ("${}", "bad substitution"),
        ("'abc", "single-quote"),
        ('"abc', "double-quote"),
        ("${UNSET:?must be set}", "UNSET: must be set"),
        ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
        ("${UNSET?}", "UNSET: is not allowed to be unset"),
        ("${A:%x}", "unsupported modifier"),
    ],
)
def test_process_word_errors(word: str, message: str) -> None:
    with pytest.raises(ExpansionError, match=message):
        process_word(word, ENV)


# --------------------------------------------------------------------------- Go formats


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1500, "1.5µs"),
        (250_000_000, "250ms"),
        (30_000_000_000, "30s"),
        (1_500_000_000, "1.5s"),
        (90_000_000_000, "1m30s"),
        (300_000_000_000, "5m0s"),
        (3_600_000_000_000, "1h0m0s"),
        (3_723_500_000_000, "1h2m3.5s"),
    ],
)
def test_go_duration_round_trip(ns: int, text: str) -> None:
    assert go_duration(ns) == text
    assert parse_go_duration(text) == ns


def test_go_quoting() -> None:
    assert go_quote('a "b"\\\n\t\x01é') == '"a \\"b\\"\\\\\\n\\t\\x01é"'
    assert go_quote_slice(["nginx", "-g", "daemon off;"]) == '["nginx" "-g" "daemon off;"]'
    assert go_quote_slice(None) == "[]"
    assert [go_quote_rune(n) for n in (0, 3, 9, 65)] == ["'\\x00'", "'\\x03'", "'\\t'", "'A'"]
    assert go_map_keys(["80/tcp", "443/tcp"]) == "map[443/tcp:{} 80/tcp:{}]"


# --------------------------------------------------------------------------- history wording

SCRATCH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STEP_CASES: list[tuple[str, str | None, dict[str, Any]]] = [
    ("ENV A=b", "ENV A=b", {"Env": [SCRATCH_ENV, "A=b"]}),
    ('ENV A="x y" B=$A', "ENV A=x y B=", {"Env": [SCRATCH_ENV, "A=x y", "B="]}),
    (
        "ENV PATH=/x:$PATH",
        f"ENV PATH=/x:{SCRATCH_ENV[5:]}",
        {"Env": ["PATH=/x:" + SCRATCH_ENV[5:]]},
    ),
    ("LABEL k=v 'a b'=c", "LABEL k=v a b=c", {"Labels": {"k": "v", "a b": "c"}}),
    ('CMD ["x"]', 'CMD ["x"]', {"Cmd": ["x"]}),
    (
        "CMD echo $HOME",
        'CMD ["/bin/sh" "-c" "echo $HOME"]',
        {"Cmd": ["/bin/sh", "-c", "echo $HOME"]},
    ),
    ('ENTRYPOINT ["/app"]', 'ENTRYPOINT ["/app"]', {"Entrypoint": ["/app"]}),
    ("ENTRYPOINT []", "ENTRYPOINT []", {"Entrypoint": None}),
    ("EXPOSE 80", "EXPOSE map[80/tcp:{}]", {"ExposedPorts": {"80/tcp": {}}}),
    (
        "EXPOSE 8000-8001/udp 443",
        "EXPOSE map[443/tcp:{} 8000/udp:{} 8001/udp:{}]",
        {"ExposedPorts": {"443/tcp": {}, "8000/udp": {}, "8001/udp": {}}},
    ),
    ("WORKDIR /app", "WORKDIR /app", {"WorkingDir": "/app"}),
    ("WORKDIR rel/../dir/", "WORKDIR /dir", {"WorkingDir": "/dir"}),
    ("USER 1000:1000", "USER 1000:1000", {"User": "1000:1000"}),
    ("VOLUME /data /logs", "VOLUME [/data /logs]", {"Volumes": {"/data": {}, "/logs": {}}}),
    ("STOPSIGNAL SIGQUIT", "STOPSIGNAL SIGQUIT", {"StopSignal": "SIGQUIT"}),
    ("STOPSIGNAL 9", "STOPSIGNAL 9", {"StopSignal": "9"}),
    ('SHELL ["/bin/bash", "-c"]', "SHELL [/bin/bash -c]", {"Shell": ["/bin/bash", "-c"]}),
    ("ARG V=1", "ARG V=1", {}),
    ("ARG NOVALUE", "ARG NOVALUE", {}),
    ("MAINTAINER me", "MAINTAINER me", {}),
    ("ONBUILD COPY . /x", None, {"OnBuild": ["COPY . /x"]}),
    (
        "HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD curl -f http://localhost/",
        'HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/"] "30s" "3s" "0s" "0s" \'\\x03\'}',
        {
            "Healthcheck": {
                "Test": ["CMD-SHELL", "curl -f http://localhost/"],
                "Interval": 30_000_000_000,
                "Timeout": 3_000_000_000,
                "Retries": 3,
            }
        },
    ),
    (
        "HEALTHCHECK NONE",
        'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" \'\\x00\'}',
        {"Healthcheck": {"Test": ["NONE"]}},
    ),
]


@pytest.mark.parametrize(
    ("text", "created_by", "config"), STEP_CASES, ids=[c[0] for c in STEP_CASES]
)
def test_created_by_as_buildkit_writes_it(
    text: str, created_by: str | None, config: dict[str, Any]
) -> None:
    state = StageState.scratch(Platform("linux", "amd64"))
    assert apply_step(state, only(text), StepContext()) == created_by
    for key, value in config.items():
        assert state.draft.config.get(key) == value, key


def test_entrypoint_resets_an_inherited_cmd_only() -> None:
    state = StageState.scratch(Platform("linux", "amd64"))
    state.draft.config["Cmd"] = ["inherited"]
    apply_step(state, only('ENTRYPOINT ["/a"]'), StepContext())
    assert "Cmd" not in state.draft.config
    apply_step(state, only('CMD ["x"]'), StepContext())
    apply_step(state, only('ENTRYPOINT ["/b"]'), StepContext())
    assert state.draft.config["Cmd"] == ["x"]


def test_arg_values_build_arg_then_default_then_global() -> None:
    state = StageState.scratch(Platform("linux", "arm64"))
    ctx = StepContext(build_args={"A": "cli"}, meta_args={"G": "global", "TARGETARCH": "arm64"})
    instr = only("ARG A=dflt B=$A G TARGETARCH NONE")
    assert apply_step(state, instr, ctx) == "ARG A=cli B= G=global TARGETARCH=arm64 NONE"
    assert ctx.used_args == {"A"}
    assert state.vars["A"] == "cli" and "NONE" not in state.vars
    assert apply_step(state, only("ENV X=$A-$G"), ctx) == "ENV X=cli-global"


@pytest.mark.parametrize(
    ("spec", "message"),
    [("80/ftp", "invalid proto"), ("x", "invalid containerPort"), ("9-1", "invalid port range")],
)
def test_bad_ports(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ports(spec)


# --------------------------------------------------------------------------- patterns

IGNORE_CASES = [
    (["*.key"], "a.key", True),
    (["*.key"], "dir/a.key", False),
    (["**/*.key"], "dir/sub/a.key", True),
    (["**/*.key"], "a.key", True),
    (["docs"], "docs/x/y.md", True),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs", "!docs/README.md"], "docs/other.md", True),
    (["/build/"], "build/out", True),
    (["./tmp"], "tmp", True),
    (["# comment", "", "  node_modules  "], "node_modules/x", True),
    (["a?c"], "abc", True),
    (["a[0-9]"], "a5", True),
    (["a[0-9]"], "ab", False),
    (["*", "!keep"], "keep", False),
    (["dir/**"], "dir/a/b", True),
    (["dir/**"], "dir", False),
    (["!x", "x"], "x", True),
]


@pytest.mark.parametrize(("patterns", "path", "ignored"), IGNORE_CASES)
def test_dockerignore(patterns: list[str], path: str, ignored: bool) -> None:
    assert IgnoreMatcher(patterns).ignored(path) is ignored


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("*.txt", "a.txt", True),
        ("*.txt", "d/a.txt", False),
        ("d/*.txt", "d/a.txt", True),
        ("a?", "ab", True),
        ("[ab]x", "bx", True),
        ("[^ab]x", "cx", True),
        ("[^ab]x", "ax", False),
        ("\\*", "*", True),
        ("\\*", "a", False),
        ("**", "a", True),
    ],
)
def test_go_match(pattern: str, name: str, matches: bool) -> None:
    assert go_match(pattern, name) is matches


def test_has_wildcards() -> None:
    assert [has_wildcards(t) for t in ("a*", "a\\*", "x[1]", "plain")] == [True, False, True, False]


def test_deeply_nested_exec_form_is_read_as_shell_form_not_a_crash() -> None:
    text = "FROM scratch\nCMD " + "[" * 100_000 + "]" * 100_000 + "\n"
    stage = parse_dockerfile(text).stages[0]
    assert stage.instructions[-1].keyword == "CMD"
