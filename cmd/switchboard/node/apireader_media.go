package node

import (
	"errors"
	"fmt"

	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/api"
)

func (r storeReader) MediaRef(tenant, id string) (string, uint64, error) {
	conv, seq, err := r.st.MediaRef(tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", 0, fmt.Errorf("media %s of tenant %s: %w", id, tenant, api.ErrNotFound)
	}
	return conv, seq, err
}
