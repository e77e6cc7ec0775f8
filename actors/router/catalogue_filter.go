package router

// The catalogue's filter of the contact ids its tenant's store holds: a contact_import batch reads from the store
// only the ids the filter says may exist, so the rows of a first import (new contacts) read nothing. Without it,
// the store's reads were a third of an import's CPU (H-speed: every id was a prefix seek through every level of
// the LSM, and the tables' bloom filter blocks were read again and again as the block cache churned).
//
// It is a scalable bloom filter: a list of bloom filters, each twice the capacity of the one before, the ids added
// to the last one until it holds its capacity. An id is never missed (no false negatives: every id the catalogue
// writes is added, and the filter starts from the store's keys); an id never written is reported present with a
// probability under 1 % per filter, about 3 % over the five that hold a million ids (it then costs one store read,
// as before). Deleted and erased ids stay in
// it (a false positive, nothing more). Memory: filterBitsPerID bits per id it can hold, 1.25 MB per million
// contacts; as the filters double, they can hold up to twice the ids they hold (2.5 MB per million at worst).

import "hash/maphash"

const (
	// filterBitsPerID and filterHashes give a false positive rate of about 0.8 % per filter.
	filterBitsPerID = 10
	filterHashes    = 7
	// filterMinCapacity is the capacity of the first filter, in ids.
	filterMinCapacity = 1 << 16
	// filterMaxCapacity keeps a filter's bit count under 2^32 (bit's arithmetic); past it, filters of this size
	// follow one another.
	filterMaxCapacity = 1 << 28
)

// idFilter is a scalable bloom filter of contact ids. Not safe for concurrent use (the catalogue's goroutine).
type idFilter struct {
	seed    maphash.Seed
	filters []bloomFilter
}

type bloomFilter struct {
	bits     []uint64
	nbits    uint64 // under 2^32
	n, limit int
}

// bit is the place of the i-th of an id's bits (g = h1 + i*h2): g's share of nbits, a multiply and a shift
// instead of a division.
func (bf *bloomFilter) bit(g uint32) uint64 { return uint64(g) * bf.nbits >> 32 }

func newIDFilter(expected int) *idFilter {
	f := &idFilter{seed: maphash.MakeSeed()}
	f.grow(max(expected, filterMinCapacity))
	return f
}

func (f *idFilter) grow(capacity int) {
	capacity = min(capacity, filterMaxCapacity)
	nbits := uint64(capacity*filterBitsPerID+63) / 64 * 64
	f.filters = append(f.filters, bloomFilter{bits: make([]uint64, nbits/64), nbits: nbits, limit: capacity})
}

// add notes id as present.
func (f *idFilter) add(id string) {
	last := &f.filters[len(f.filters)-1]
	if last.n >= last.limit {
		f.grow(2 * last.limit)
		last = &f.filters[len(f.filters)-1]
	}
	h := maphash.String(f.seed, id)
	g, step := uint32(h), uint32(h>>32)|1
	for range filterHashes {
		b := last.bit(g)
		last.bits[b/64] |= 1 << (b % 64)
		g += step
	}
	last.n++
}

// mayHave reports whether id may have been added: false means it never was.
func (f *idFilter) mayHave(id string) bool {
	h := maphash.String(f.seed, id)
	step := uint32(h>>32) | 1
	for i := range f.filters {
		bf := &f.filters[i]
		g, hit := uint32(h), true
		for range filterHashes {
			b := bf.bit(g)
			if bf.bits[b/64]&(1<<(b%64)) == 0 {
				hit = false
				break
			}
			g += step
		}
		if hit {
			return true
		}
	}
	return false
}

// bytes is the memory of the filter's bits.
func (f *idFilter) bytes() int {
	n := 0
	for _, bf := range f.filters {
		n += 8 * len(bf.bits)
	}
	return n
}
