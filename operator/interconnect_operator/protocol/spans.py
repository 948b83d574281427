"""What is in use on one channel, kept current as features come and go (P9).

A channel's VLANs and subnets in use are held as a multiset of aligned
blocks (a VLAN is a block of one; a subnet is its CIDR span, a block of
2^k addresses aligned to its size) together with their union as sorted,
merged, disjoint inclusive integer intervals. A recorded feature adds its
blocks and a removed one takes them out, each in O(log n) plus a list
insertion, so allocation (``protocol.allocation``) reads the union by
bisect without merging every subnet in use again for each proposal.

Blocks are counted, not just marked: both sides hold a copy of each
feature, and the space stays in use until the last holder is gone. CIDR
blocks nest or are disjoint, which keeps a removal local: the block's space
is still covered when a larger block holding it is in use; otherwise only
the smaller blocks inside it remain of it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator, Sequence
from hashlib import blake2b
from ipaddress import IPv4Network, IPv6Network

Interval = tuple[int, int]  # inclusive

_BITS = 8
"""Low bits of a block key holding its size exponent (2^k addresses, k <= 128)."""
_MASK64 = (1 << 64) - 1


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort and merge (touching intervals too) into disjoint inclusive intervals."""
    out: list[Interval] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _block_bits(lo: int, hi: int) -> int:
    size = hi - lo + 1
    bits = size.bit_length() - 1
    if size <= 0 or size != 1 << bits or lo & (size - 1):
        raise ValueError(f"[{lo}, {hi}] is not an aligned block of a power-of-two size")
    return bits


def _weight(key: int) -> int:
    return int.from_bytes(blake2b(key.to_bytes(18, "big"), digest_size=8).digest(), "big")


class SpanSet:
    """A multiset of aligned blocks and their union as merged intervals.

    ``starts``/``ends`` are the union: sorted, disjoint, never touching. A
    block is keyed ``lo << 8 | k`` (2^k addresses from ``lo``), so the sorted
    keys are the blocks ordered by start.
    """

    __slots__ = ("_counts", "_digest", "_keys", "_max_bits", "ends", "starts", "total")

    def __init__(self, blocks: Iterable[Interval] = ()) -> None:
        self._counts: dict[int, int] = {}
        self._max_bits = 0
        self._digest: int | None = None
        self.total = 0
        """Blocks held, each copy counted."""
        for lo, hi in blocks:
            key = lo << _BITS | _block_bits(lo, hi)
            self._counts[key] = self._counts.get(key, 0) + 1
        self._keys = sorted(self._counts)
        for key, n in self._counts.items():
            self.total += n
            self._max_bits = max(self._max_bits, key & 0xFF)
        merged = merge_intervals(self.blocks())
        self.starts = [lo for lo, _ in merged]
        self.ends = [hi for _, hi in merged]

    @property
    def digest(self) -> int:
        """Order-independent content digest of the multiset (sum of 64-bit weights):
        computed on first use, then kept current by ``add``/``discard``."""
        if self._digest is None:
            total = sum(n * _weight(key) for key, n in self._counts.items())
            self._digest = total & _MASK64
        return self._digest

    def blocks(self) -> Iterator[Interval]:
        """Distinct blocks held, by start."""
        for key in self._keys:
            lo = key >> _BITS
            yield lo, lo + (1 << (key & 0xFF)) - 1

    def intervals(self) -> list[Interval]:
        """The union as merged intervals."""
        return list(zip(self.starts, self.ends, strict=True))

    def count(self, lo: int, hi: int) -> int:
        """Copies of the block [lo, hi] held."""
        return self._counts.get(lo << _BITS | _block_bits(lo, hi), 0)

    def add(self, lo: int, hi: int) -> None:
        """Hold one more copy of the block [lo, hi]."""
        bits = _block_bits(lo, hi)
        key = lo << _BITS | bits
        self.total += 1
        if self._digest is not None:
            self._digest = (self._digest + _weight(key)) & _MASK64
        held = self._counts.get(key, 0)
        self._counts[key] = held + 1
        if held:
            return
        insort(self._keys, key)
        self._max_bits = max(self._max_bits, bits)
        # Union intervals touching [lo, hi]: ends >= lo - 1 and starts <= hi + 1.
        i = bisect_left(self.ends, lo - 1)
        j = bisect_right(self.starts, hi + 1)
        if i < j:
            lo = min(lo, self.starts[i])
            hi = max(hi, self.ends[j - 1])
        self.starts[i:j] = [lo]
        self.ends[i:j] = [hi]

    def discard(self, lo: int, hi: int) -> None:
        """Drop one copy of the block [lo, hi]; KeyError when none is held."""
        bits = _block_bits(lo, hi)
        key = lo << _BITS | bits
        held = self._counts[key]
        self.total -= 1
        if self._digest is not None:
            self._digest = (self._digest - _weight(key)) & _MASK64
        if held > 1:
            self._counts[key] = held - 1
            return
        del self._counts[key]
        del self._keys[bisect_left(self._keys, key)]
        # Still covered when a larger block holding it is in use (blocks nest).
        for k in range(bits + 1, self._max_bits + 1):
            base = lo & ~((1 << k) - 1)
            if base << _BITS | k in self._counts:
                return
        # Otherwise what stays of [lo, hi] is the blocks inside it; the rest of
        # its union interval [a, b] is covered by other blocks as before.
        idx = bisect_right(self.starts, lo) - 1
        a, b = self.starts[idx], self.ends[idx]
        first = bisect_left(self._keys, lo << _BITS)
        last = bisect_left(self._keys, (hi + 1) << _BITS)
        pieces: list[Interval] = []
        if a < lo:
            pieces.append((a, lo - 1))
        for inner in self._keys[first:last]:
            start = inner >> _BITS
            pieces.append((start, start + (1 << (inner & 0xFF)) - 1))
        if hi < b:
            pieces.append((hi + 1, b))
        merged = merge_intervals(pieces)
        self.starts[idx : idx + 1] = [s for s, _ in merged]
        self.ends[idx : idx + 1] = [e for _, e in merged]

    def overlap_end(self, lo: int, hi: int) -> int | None:
        """The end of the union interval overlapping [lo, hi], or None."""
        # Disjoint and sorted: the last interval starting at or before hi is
        # the one that ends last among those that could overlap.
        idx = bisect_right(self.starts, hi) - 1
        if idx >= 0 and self.ends[idx] >= lo:
            return self.ends[idx]
        return None

    def __len__(self) -> int:
        return self.total


def network_block(net: IPv4Network | IPv6Network) -> Interval:
    """The integer span of a subnet.

    Computed from the prefix length, not read from ``broadcast_address``: that
    property caches itself and ``hostmask`` (two address objects, ~410 bytes)
    in every network it is read from, and the pool snapshot's records keep
    one network per feature and family for as long as the feature lives.
    """
    lo = int(net.network_address)
    return lo, lo | ((1 << (net.max_prefixlen - net.prefixlen)) - 1)


class UsedSpace:
    """VLANs, IPv4 and IPv6 subnets in use on one channel, on both sides together.

    Mutable: the pool snapshot keeps one per channel and updates it as
    features are recorded. Read it at once (allocation does); it is not a
    value to keep across a change.
    """

    __slots__ = ("ipv4", "ipv6", "vlans")

    def __init__(
        self,
        vlans: Iterable[int] = (),
        ipv4: Iterable[IPv4Network] = (),
        ipv6: Iterable[IPv6Network] = (),
    ) -> None:
        self.vlans = SpanSet((v, v) for v in vlans)
        self.ipv4 = SpanSet(network_block(n) for n in ipv4 if n.version == 4)
        self.ipv6 = SpanSet(network_block(n) for n in ipv6 if n.version == 6)

    def add(self, vlan: int | None, ipv4: IPv4Network | None, ipv6: IPv6Network | None) -> None:
        """One more holder of these (None: nothing of that kind)."""
        if vlan is not None:
            self.vlans.add(vlan, vlan)
        if ipv4 is not None:
            self.ipv4.add(*network_block(ipv4))
        if ipv6 is not None:
            self.ipv6.add(*network_block(ipv6))

    def discard(self, vlan: int | None, ipv4: IPv4Network | None, ipv6: IPv6Network | None) -> None:
        """One holder fewer of these (each must be held)."""
        if vlan is not None:
            self.vlans.discard(vlan, vlan)
        if ipv4 is not None:
            self.ipv4.discard(*network_block(ipv4))
        if ipv6 is not None:
            self.ipv6.discard(*network_block(ipv6))

    def __repr__(self) -> str:
        # Content, not identity, in O(1): a blocked channel compares this before
        # and after to see whether what is in use changed (P12).
        parts = (self.vlans, self.ipv4, self.ipv6)
        counts = "/".join(str(s.total) for s in parts)
        digest = "".join(f"{s.digest:016x}" for s in parts)
        return f"UsedSpace({counts} held, {digest})"


UsedLayers = Sequence[UsedSpace]
"""Several spaces read as one: a shared base and small extras on top."""
