"""Search over a track's title, artist, album, original file name and comments, behind one function (``matching``)
whatever the database: PostgreSQL's full-text search, with pg_trgm's word similarity for typos when nothing
has the words as typed ("metalica" finds Metallica), and SQLite's FTS5 on the embedded default (migration
0017 makes the indexes of each).

Each track keeps what is searched in ``Track.search_text``, folded (lower case, no accents) so both databases
match alike: ``Track.save`` writes it when a field it reads is saved, ``refresh`` when a comment changes. A query's
words must all be found, each as the start of a word ("bea" finds "Beatles"); ``marks`` shows where.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.html import escape, format_html_join
from django.utils.safestring import SafeString

from .models import Track, fold

WORD = re.compile(r"\w+")
MOST_WORDS = 8
FTS_TABLE = "tracks_track_fts"
MATCH_FTS = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"  # noqa: S608 (our table's name)


def words(query: str) -> list[str]:
    return WORD.findall(fold(query))[:MOST_WORDS]


def refresh(track: Track) -> None:
    """Write what search reads for this track after its comments changed (its own fields: Track.save)."""
    track.search_text = track.searched_text()
    Track.objects.filter(pk=track.pk).update(search_text=track.search_text)


def matching(tracks: QuerySet[Track], query: str) -> QuerySet[Track]:
    """The tracks of ``tracks`` the query's words are found in (all of them, when it has none)."""
    found = words(query)
    if not found:
        return tracks
    if connection.vendor == "postgresql":
        return _postgresql(tracks, found)
    if connection.vendor == "sqlite":
        return _sqlite(tracks, found)
    return tracks.filter(*(Q(search_text__contains=w) for w in found))  # any other database: plain and slow


def _postgresql(tracks: QuerySet[Track], found: list[str]) -> QuerySet[Track]:
    # Every word as the start of one ('bea:*'), in the words migration 0017 keeps (search_vector, indexed).
    # Only when no track has them all: every word of four letters or more like one of the text's (a typo:
    # pg_trgm's %>, word similarity over pg_trgm.word_similarity_threshold, 0.6 unless set), the shorter ones
    # still by their start. The words travel as parameters; the SQL is fixed text.
    exact = tracks.alias(words_found=_words_found(found)).filter(words_found=True)
    if exact.exists():
        return exact
    alike = [RawSQL("tracks_track.search_text %%> %s", (w,), output_field=BooleanField())
             if len(w) >= 4 else _words_found([w]) for w in found]
    return tracks.alias(**{f"like_{n}": term for n, term in enumerate(alike)}).filter(
        **{f"like_{n}": True for n in range(len(alike))})


def _words_found(found: list[str]) -> RawSQL:
    return RawSQL("tracks_track.search_vector @@ to_tsquery('simple', %s)",
                  (" & ".join(f"{w}:*" for w in found),), output_field=BooleanField())


def _sqlite(tracks: QuerySet[Track], found: list[str]) -> QuerySet[Track]:
    phrase = " ".join(f'"{w}"*' for w in found)  # words only (WORD): nothing of FTS5's syntax gets through
    return tracks.filter(pk__in=RawSQL(MATCH_FTS, (phrase,)))  # noqa: S611 (the phrase is a parameter)


def marks(text: str, query: str) -> SafeString:
    """``text`` escaped, with the words of it that start like the query's in ``<mark>``."""
    found = set(words(query))
    if not found or not text:
        return escape(text)
    pairs, last = [], 0
    for word in WORD.finditer(text):
        if any(fold(word.group()).startswith(w) for w in found):
            pairs.append((text[last:word.start()], word.group()))
            last = word.end()
    return format_html_join("", "{}<mark>{}</mark>", pairs) + escape(text[last:])


def where(track: Track, query: str, comments: list[str], most: int = 80) -> tuple[str, SafeString] | None:
    """For a found track whose title, artist and album do not show the query's words: where they are (the
    file name or one of its ``comments``), and that text around them, marked; None when the headline shows
    them (or a typo matched)."""
    found = words(query)
    shown = fold(" ".join((track.title, track.artist, track.album)))
    if not found or all(re.search(rf"\b{re.escape(w)}", shown) for w in found):
        return None
    places: list[tuple[str, Any]] = [("file", track.original_name),
                                     *(("comment", c) for c in comments)]
    for place, text in places:
        folded = fold(text)
        hit = next((m for w in found if (m := re.search(rf"\b{re.escape(w)}", folded))), None)
        if hit:
            start = max(0, hit.start() - most // 3)
            snippet = ("…" if start else "") + text[start:start + most] + ("…" if start + most < len(text) else "")
            return place, marks(snippet, query)
    return None
