package store

// Canned responses: one JSON record per response under t/<tenant>/d/<id>, written by the tenant's catalogue
// (actors/router, catalogue_canned.go) and read by the API. A tenant has at most canned.MaxPerTenant of them, so a
// list is one bounded prefix scan.

import (
	"encoding/json"
	"fmt"

	"github.com/switchboard-hq/switchboard/actors/canned"
)

// PutCanned writes a canned response of tenant.
func (b *Batch) PutCanned(tenant string, r *canned.Response) error {
	return b.putJSON(cannedKey(tenant, r.ID), r)
}

// DeleteCanned deletes a canned response of tenant.
func (b *Batch) DeleteCanned(tenant, id string) error {
	return b.b.Delete(cannedKey(tenant, id), nil)
}

// Canned returns a canned response of tenant, or ErrNotFound; it may be the tombstone of a deleted one
// (Response.Deleted).
func (s *Store) Canned(tenant, id string) (canned.Response, error) {
	var r canned.Response
	err := s.getJSON(cannedKey(tenant, id), &r)
	return r, err
}

// CannedResponses returns every canned response of tenant, in id order, without the tombstones of deleted ones.
func (s *Store) CannedResponses(tenant string) ([]canned.Response, error) {
	var out []canned.Response
	err := s.eachKey(cannedPrefix(tenant), func(k, v []byte) error {
		var r canned.Response
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decode canned response %s: %w", k, err)
		}
		if !r.Deleted {
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read canned responses of %s: %w", tenant, err)
	}
	return out, nil
}

// CountCanned returns how many canned responses tenant has, tombstones aside.
func (s *Store) CountCanned(tenant string) (int, error) {
	list, err := s.CannedResponses(tenant)
	return len(list), err
}
