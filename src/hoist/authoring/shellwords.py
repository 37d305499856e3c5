"""Variable substitution in Dockerfile words, the way BuildKit's shell lexer does it.

``$VAR`` and ``${VAR}``; ``${VAR:-word}`` / ``${VAR-word}`` (default when empty / unset),
``${VAR:+word}`` / ``${VAR+word}`` (alternative when non-empty / set), ``${VAR:?msg}`` /
``${VAR?msg}`` (error). Single quotes keep everything literal, double quotes allow ``$``,
and the escape character (``\\`` or the ``# escape=`` one) makes the next character literal.
Quotes and escapes are removed from the result. Unset variables expand to nothing.

Pure functions; errors are ValueErrors the parser turns into InvalidDockerfile with a line.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ExpansionError", "process_word", "process_words"]

_SPECIAL = frozenset("@*#?-$!0")


class ExpansionError(ValueError):
    """A word that cannot be expanded: an unclosed quote or brace, a bad substitution."""


class _Words:
    """Collects the words of a string as shell word splitting sees them."""

    def __init__(self) -> None:
        self.word = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def result(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
            self.in_word = False
        return self.words


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str], escape: str) -> None:
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def process(self, stop: str = "") -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        while self.peek():
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(result), words.result()
            if ch in ("'", '"', "$"):
                if ch == "'":
                    piece = self._single_quote()
                elif ch == '"':
                    piece = self._double_quote()
                else:
                    piece = self._dollar()
                result.append(piece)
                if ch == "$":
                    words.add_string(piece)
                else:
                    words.add_raw(piece)
                continue
            ch = self.next()
            if ch == self.escape:
                ch = self.next()
                if not ch:
                    break
                words.add_raw(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.result()

    def _single_quote(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.next()
            if not ch:
                raise ExpansionError(
                    "unexpected end of statement while looking for matching single-quote"
                )
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def _double_quote(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise ExpansionError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                following = self.peek()
                if not following:
                    continue  # an escape at the very end is dropped
                if following in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def _name(self) -> str:
        ch = self.peek()
        if ch.isdigit():
            start = self.pos
            while self.peek().isdigit():
                self.next()
            return self.text[start : self.pos]
        if ch and ch in _SPECIAL:
            return self.next()
        start = self.pos
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.next()
        return self.text[start : self.pos]

    def _word_until_brace(self) -> str:
        try:
            word, _ = self.process("}")
        except ExpansionError:
            if not self.peek():
                raise ExpansionError("syntax error: missing '}'") from None
            raise
        return word

    def _dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self._name()
            return self.env.get(name, "") if name else "$"
        self.next()
        if not self.peek():
            raise ExpansionError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self._name()
        ch = self.next()
        found = name in self.env
        value = self.env.get(name, "")
        if ch == "}":
            return value
        if ch in ("?", "-", "+"):
            word = self._word_until_brace()
            if ch == "-":
                return value if found else word
            if ch == "+":
                return word if found else ""
            if not found:
                raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
            return value
        if ch == ":":
            modifier = self.next()
            word = self._word_until_brace()
            if modifier == "+":
                return word if value else ""
            if modifier == "-":
                return value or word
            if modifier == "?":
                if not found:
                    raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
                if not value:
                    raise ExpansionError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")
        if not ch:
            raise ExpansionError("syntax error: missing '}'")
        raise ExpansionError(f"unsupported modifier ({ch}) in substitution")


def process_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """``word`` with variables expanded and quotes and escapes removed (no splitting)."""
    return _Lexer(word, env, escape).process()[0]


def process_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """``text`` expanded and split into words at unquoted whitespace (EXPOSE uses this)."""
    return _Lexer(text, env, escape).process()[1]
