package node

import (
	"errors"
	"fmt"

	"github.com/switchboard-hq/switchboard/actors/canned"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/api"
)

func (r storeReader) CannedResponses(tenant string) ([]canned.Response, error) {
	return r.st.CannedResponses(tenant)
}

func (r storeReader) Canned(tenant, id string) (canned.Response, error) {
	c, err := r.st.Canned(tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, fmt.Errorf("canned response %s of tenant %s: %w", id, tenant, api.ErrNotFound)
	}
	return c, err
}
