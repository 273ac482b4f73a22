"""Destination resolver: a traveller's free-text address (目的地) → the division it names.

The resolver is pure: every index is built once from the division rows, and ``resolve`` does
no I/O and never scans all rows. It returns the DEEPEST division the text names with
certainty; when a name fits several places it stops at their deepest common ancestor,
because a wrong village sends a task to the wrong grid worker, while a town can still
dispatch it by hand.

How a text is read:

* normalise: NFKC (full-width digits and punctuation become ASCII), every character that is
  not a letter, digit or CJK ideograph becomes a separator;
* strip lead words at the start (回老家, 返乡至, 到, 去 …) — the parse is tried both with and
  without each of them, so a place whose name begins with 回 is still found;
* the address must start at the beginning of the (lead-stripped) text: a chain of division
  names, each a descendant of the previous one (levels may be skipped: 秀英街道向荣村), each
  written formally or in a common short form (琼中, 湾岭, 向荣村, 城南社区);
* of all chains, the one consuming the most text wins; ties with different end points
  resolve to their deepest common ancestor;
* what follows the chain (3队12号, 银海路8号) is ignored.

A short form made by dropping a suffix (湾岭 for 湾岭镇, 陵水 for 陵水黎族自治县) must be
followed by the end of the text, a separator, a digit or a further division name — otherwise
"海南藏族自治州" would read as 海南 and "白龙南路" as 白龙街道.

Caching: no name form and no lead word holds an ASCII digit, so a chain of names never runs
through one: the text before the first digit (海口市秀英区长流镇美德村委会 of …3队12号) decides
the reading, and only the unread-tail check above looks further. Readings are kept per such
head in a bounded LRU, so the many addresses of one village or road are parsed once.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

__all__ = ["DivisionRow", "Resolution", "Resolver", "default_resolver", "normalize"]


@dataclass(frozen=True, slots=True)
class DivisionRow:
    code: str
    name: str
    level: int
    parent_code: str | None


@dataclass(slots=True)
class Resolution:
    input: str
    code: str | None
    level: int | None
    path: list[str] = field(default_factory=list)
    confidence: float = 0.0

    def to_dict(self) -> dict:
        return {
            "input": self.input,
            "code": self.code,
            "level": self.level,
            "path": list(self.path),
            "confidence": self.confidence,
        }


# --- normalisation -------------------------------------------------------------------------


_SEPARATORS = re.compile(r"[\W_]+")
_ASCII_DIGIT = re.compile(r"[0-9]")


def normalize(text: str) -> tuple[str, frozenset[int]]:
    """Return the compact text (no separators, lower-case) and the positions of separators.

    A position p in the set means a separator stood just before compact[p] (or at the end).
    NFKC turns full-width digits, letters and punctuation into their ASCII forms first.
    """
    parts = _SEPARATORS.split(unicodedata.normalize("NFKC", text).lower())
    if len(parts) == 1:
        return parts[0], frozenset()
    breaks = set()
    pos = 0
    for part in parts[:-1]:
        pos += len(part)
        if pos:
            breaks.add(pos)
    return "".join(parts), frozenset(breaks)


def _compact_name(name: str) -> str:
    return normalize(name)[0]


# Words that introduce a destination; tried longest first, repeatedly, at the start only.
_LEAD_WORDS = tuple(
    sorted(
        {
            "目的地",
            "目的地址",
            "地址",
            "住址",
            "现住址",
            "家庭住址",
            "居住地",
            "现居住地",
            "回老家",
            "老家",
            "返乡至",
            "返乡到",
            "返乡",
            "返回",
            "返琼",
            "回琼",
            "回到",
            "回",
            "前往",
            "去往",
            "到达",
            "抵达",
            "到",
            "去",
            "至",
            "往",
            "住",
            "住在",
            "家住",
            "现住",
            "居住在",
            "我",
            "我在",
            "我回",
            "我去",
            "本人",
            "中国",
            "中华人民共和国",
        },
        key=len,
        reverse=True,
    )
)

_LEAD_RE = re.compile("|".join(map(re.escape, _LEAD_WORDS)))

# After a result shallower than a village, these in the unread tail mean the text named a
# deeper division we could not place.
_DEEPER_MARK = re.compile(r"村|镇|乡|社区|街道|居委|县|市|(?<![小园校景厂矿营])区")

_VILLAGE_SUFFIX = re.compile(
    r"(村民委员会|村委员会|村委会|村委员|社区居民委员会|社区居委会|居民委员会|居委会|社区)$"
)
_AUTONOMOUS_COUNTY = re.compile(r"^(.+?)(?:(?:黎|苗|回|壮|瑶|藏|彝|侗|满|羌|土家|布依|蒙古|朝鲜)族)+自治县$")
_PLACEHOLDER = re.compile(r"(直辖县级行政区划|直辖村级区划|^市辖区)$")

# Penalty per level for a level the text skipped (province, city, county, town).
_SKIP_PENALTY = {1: 0.02, 2: 0.04, 3: 0.08, 4: 0.15}


def _variants_for(name: str, level: int, parent_short: str | None) -> list[tuple[str, float, bool]]:
    """Name forms people write for one division: (form, penalty, needs_boundary)."""
    formal = _compact_name(name)
    forms: list[tuple[str, float, bool]] = [(formal, 0.0, False)]

    def short(stem: str, penalty: float = 0.05) -> None:
        if len(stem) >= 2:
            forms.append((stem, penalty, True))

    if level == 1:
        short(re.sub(r"(省|市|自治区|壮族自治区|回族自治区|维吾尔自治区|特别行政区)$", "", formal))
    elif level in (2, 3):
        m = _AUTONOMOUS_COUNTY.match(formal)
        if m:
            stem = m.group(1)
            forms += [(stem + "县", 0.03, False), (stem + "自治县", 0.03, False)]
            short(stem)
        elif formal.endswith(("市", "县", "区")):
            short(formal[:-1])
    elif level == 4:
        m = re.match(r"^(.+?)(镇|乡|街道|街道办事处)$", formal)
        if m:
            stem = m.group(1)
            if m.group(2) == "街道":
                forms += [(stem + "街道办事处", 0.0, False), (stem + "街道办", 0.02, False)]
            short(stem)
        else:
            bare = re.sub(r"^(地方国营|国营)", "", formal)
            if bare != formal:
                forms.append((bare, 0.03, False))
            if parent_short and bare.startswith(parent_short) and len(bare) > len(parent_short) + 1:
                bare = bare[len(parent_short) :]
                forms.append((bare, 0.03, False))
            paren = re.match(r"^(.+?)\(", unicodedata.normalize("NFKC", name))
            if paren:
                forms.append((_compact_name(paren.group(1)), 0.03, False))
            m = re.match(r"^(.+?)经济开发区", bare)
            if m:
                forms.append((m.group(1) + "开发区", 0.03, False))
                short(m.group(1))
            m = re.match(r"^(.+?)(华侨农场|农场|林场|林业公司|盐场|热带作物场)$", bare)
            if m:
                short(m.group(1))
    elif level == 5:
        m = _VILLAGE_SUFFIX.search(formal)
        if m:
            core, suffix = formal[: m.start()], m.group(1)
            if suffix.startswith("村"):
                forms += [(core + s, 0.0, False) for s in ("村委会", "村民委员会", "村委员会", "村委")]
                forms.append((core + "村", 0.03, False))
            else:
                forms += [
                    (core + s, 0.0, False)
                    for s in ("社区居委会", "社区居民委员会", "居委会", "居民委员会", "社区居委")
                ]
                forms.append((core + "社区", 0.03, False))
            if core.endswith(("村", "居")) and len(core) >= 2:
                forms.append((core, 0.05, False))
        elif "虚拟" in formal:
            forms.append((formal.replace("虚拟", ""), 0.03, False))
    # Keep the best (lowest-penalty) entry per form.
    best: dict[str, tuple[str, float, bool]] = {}
    for form in forms:
        if form[0] and (form[0] not in best or form[1] < best[form[0]][1]):
            best[form[0]] = form
    return list(best.values())


class Resolver:
    """Resolves free-text destinations against one set of division rows."""

    def __init__(self, rows: Iterable[DivisionRow | tuple], *, cache_size: int = 65536) -> None:
        """`cache_size`: readings kept per text head (0: no cache, every text parsed in full)."""
        raw: list[DivisionRow] = []
        for row in rows:
            if not isinstance(row, DivisionRow):
                code, name, level, parent = row
                row = DivisionRow(str(code), str(name), int(level), str(parent) if parent else None)
            raw.append(row)
        raw.sort(key=lambda r: (r.level, r.code))
        self._index = {r.code: i for i, r in enumerate(raw)}
        self.codes = [r.code for r in raw]
        self.names = [r.name for r in raw]
        self.levels = [r.level for r in raw]
        self.parent = [self._index.get(r.parent_code) if r.parent_code else None for r in raw]
        self.placeholder = [bool(_PLACEHOLDER.search(r.name)) for r in raw]
        self.ancestors: list[frozenset[int]] = []  # strict ancestors
        for i in range(len(raw)):
            chain: set[int] = set()
            p = self.parent[i]
            while p is not None:
                chain.add(p)
                p = self.parent[p]
            self.ancestors.append(frozenset(chain))
        self.paths: list[list[str]] = []
        for i in range(len(raw)):
            chain_idx = [i]
            p = self.parent[i]
            while p is not None:
                chain_idx.append(p)
                p = self.parent[p]
            self.paths.append([self.names[j] for j in reversed(chain_idx) if not self.placeholder[j]])

        variants: dict[str, list[tuple[int, float, bool]]] = {}
        for i, r in enumerate(raw):
            if self.placeholder[i]:
                continue
            parent_short = None
            p = self.parent[i]
            while p is not None and self.placeholder[p]:
                p = self.parent[p]
            if p is not None:
                parent_short = re.sub(r"(省|市|县|区)$", "", _compact_name(self.names[p]))
            for form, penalty, needs_boundary in _variants_for(r.name, r.level, parent_short):
                if len(form) >= 2:
                    variants.setdefault(form, []).append((i, penalty, needs_boundary))
        # form → ((node, penalty, needs_boundary), ...); a dropped suffix needs a boundary.
        self._variants: dict[str, tuple[tuple[int, float, bool], ...]] = {
            k: tuple(v) for k, v in variants.items()
        }
        # The lengths of the forms starting with each two characters, longest first.
        lengths: dict[str, set[int]] = {}
        for form in self._variants:
            lengths.setdefault(form[:2], set()).add(len(form))
        self._lengths = {ch: tuple(sorted(ls, reverse=True)) for ch, ls in lengths.items()}
        # The parse stops at an ASCII digit only while no form or lead word contains one.
        self._digit_stops = cache_size > 0 and not any(
            _ASCII_DIGIT.search(word) for word in (*self._variants, *_LEAD_WORDS)
        )
        self._read = (
            lru_cache(maxsize=cache_size)(self._read_uncached) if cache_size > 0 else self._read_uncached
        )

    # --- construction helpers ----------------------------------------------------------

    @classmethod
    def from_csv(cls, path: str | Path) -> Resolver:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            return cls(
                DivisionRow(r["code"], r["name"], int(r["level"]), r["parent_code"] or None) for r in reader
            )

    def node(self, code: str) -> int | None:
        return self._index.get(code)

    # --- resolving ---------------------------------------------------------------------

    def resolve(self, text: str) -> Resolution:
        s, breaks = normalize(text or "")
        head, head_breaks = s, breaks
        if self._digit_stops and (digit := _ASCII_DIGIT.search(s)):
            head = s[: digit.start()]
            head_breaks = frozenset(b for b in breaks if b < digit.start()) if breaks else breaks
        reading = self._read(head, head_breaks)
        if reading is None:
            return Resolution(text, None, None, [], 0.0)
        target, best_end, confidence = reading
        if self.levels[target] < 5 and best_end < len(s) and _DEEPER_MARK.search(s, best_end):
            confidence -= 0.25
        confidence = round(min(1.0, max(0.05, confidence)), 2)
        return Resolution(text, self.codes[target], self.levels[target], list(self.paths[target]), confidence)

    def cache_info(self) -> object:
        """Hits and misses of the reading cache (None when built with cache_size=0)."""
        info = getattr(self._read, "cache_info", None)
        return info() if info else None

    def _read_uncached(self, s: str, breaks: frozenset[int]) -> tuple[int, int, float] | None:
        """The division a compact text names: (node, end of the reading, confidence before the
        unread-tail check), or None."""
        best: list[tuple[int, tuple[int, ...], float]] = []
        best_end = -1
        memo: dict[tuple[int, int], list[tuple[int, tuple[int, ...], float]]] = {}
        for start in self._starts(s):
            found = self._parse(s, breaks, start, -1, memo)
            end = found[0][0]
            # The longest reading wins; on a tie the one with fewer lead words stripped.
            if found[0][1] and end > best_end:
                best, best_end = found, end
        if not best:
            return None

        ends = {nodes[-1] for _, nodes, _ in best}
        target = self._common_ancestor(ends)
        if target is None:
            return None
        levels = self.levels
        # Two readings of the same place (海口秀英: the district, or 秀英街道) cost the cheaper.
        cost: dict[int, float] = {}
        for _, nodes, penalty in best:
            penalty += self._skip_penalty(nodes)
            if penalty < cost.get(nodes[-1], 9.0):
                cost[nodes[-1]] = penalty
        confidence = 1.0 - max(cost.values())
        if len(ends) > 1:
            # The text named something deeper than we dare to return.
            deepest = max(levels[e] for e in ends)
            confidence = min(confidence, 0.6) - 0.1 * (deepest - levels[target])
        return target, best_end, confidence

    def _starts(self, s: str) -> list[int]:
        starts = [0]
        pos = 0
        match = _LEAD_RE.match
        while m := match(s, pos):
            pos = m.end()
            starts.append(pos)
        return starts

    def _parse(
        self,
        s: str,
        breaks: frozenset[int],
        pos: int,
        node: int,
        memo: dict[tuple[int, int], list[tuple[int, tuple[int, ...], float]]],
    ) -> list[tuple[int, tuple[int, ...], float]]:
        """Best continuations from ``pos`` below ``node`` (-1: anywhere) as (end, nodes, penalty).

        Every returned continuation has the same end; nodes == () means nothing more matched.
        """
        key = (pos, node)
        cached = memo.get(key)
        if cached is not None:
            return cached
        n = len(s)
        found: list[tuple[int, int, float, list]] = []
        lengths = self._lengths.get(s[pos : pos + 2]) if pos + 1 < n else None
        if lengths:
            variants = self._variants
            ancestors = self.ancestors
            for k in lengths:
                after = pos + k
                if after > n:
                    continue
                entries = variants.get(s[pos:after])
                if entries is None:
                    continue
                for child, penalty, needs_boundary in entries:
                    if node >= 0 and node not in ancestors[child]:
                        continue
                    subs = self._parse(s, breaks, after, child, memo)
                    end = subs[0][0]
                    if (
                        end == after
                        and needs_boundary
                        and not (after == n or after in breaks or s[after].isdigit())
                    ):
                        continue
                    found.append((end, child, penalty, subs))
        results: list[tuple[int, tuple[int, ...], float]]
        if not found:
            results = [(pos, (), 0.0)]
        else:
            if len(found) > 1:
                best_end = max(f[0] for f in found)
                found = [f for f in found if f[0] == best_end]
            results = self._prefer_shallow(found)
        memo[key] = results
        return results

    def _prefer_shallow(self, found: list) -> list[tuple[int, tuple[int, ...], float]]:
        """Among equally long readings, keep those whose next division is shallowest.

        The same words read at two levels (白沙 the county, 白沙 the street office): the
        shallower reading is the one people mean when they drop the suffix. If dropping the
        deeper reading changes the answer, confidence pays for it.
        """
        levels = self.levels
        top = min(levels[f[1]] for f in found)
        demoted = 0.0
        if any(levels[f[1]] != top for f in found):
            kept = {
                sub[1][-1] if sub[1] else child
                for _, child, _, subs in found
                if levels[child] == top
                for sub in subs
            }
            dropped = {
                sub[1][-1] if sub[1] else child
                for _, child, _, subs in found
                if levels[child] != top
                for sub in subs
            }
            if dropped - kept:
                demoted = 0.1
            else:
                top = 99  # both readings lead to the same places: keep both
        return [
            (end, (child, *sub[1]), penalty + sub[2] + demoted)
            for end, child, penalty, subs in found
            if levels[child] <= top
            for sub in subs
        ]

    def _skip_penalty(self, nodes: tuple[int, ...]) -> float:
        """Penalty for real (non-placeholder) levels above the end node the text left out."""
        named = set(nodes)
        end = nodes[-1]
        penalty = 0.0
        p = self.parent[end]
        while p is not None:
            if p not in named and not self.placeholder[p]:
                penalty += _SKIP_PENALTY.get(self.levels[p], 0.05)
            p = self.parent[p]
        return penalty

    def _common_ancestor(self, nodes: set[int]) -> int | None:
        it = iter(nodes)
        first = next(it)
        common = self.ancestors[first] | {first}
        for other in it:
            common = common & (self.ancestors[other] | {other})
        candidates = [c for c in common if not self.placeholder[c]]
        if not candidates:
            return None
        return max(candidates, key=lambda c: self.levels[c])


def _shipped_csv() -> Path:
    return Path(str(resources.files("zhengding") / "data" / "hainan-divisions.csv"))


@lru_cache(maxsize=1)
def default_resolver() -> Resolver:
    """The resolver over the shipped Hainan divisions, built once per process."""
    return Resolver.from_csv(_shipped_csv())
