package httpapi

// The routes of the asking user's blocks.

import (
	"net/http"
)

// PUT /blocks/{other}: the asking user blocks other; 204. Idempotent.
func (a *api) block(w http.ResponseWriter, r *http.Request, me string) error {
	if err := decodeBody(w, r, smallBodyLimit, &struct{}{}); err != nil {
		return err
	}
	if err := a.x.Block(r.Context(), me, other(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// DELETE /blocks/{other}: the asking user lifts their block of other; 204.
// Idempotent; a block by other stays.
func (a *api) unblock(w http.ResponseWriter, r *http.Request, me string) error {
	if err := decodeBody(w, r, smallBodyLimit, &struct{}{}); err != nil {
		return err
	}
	if err := a.x.Unblock(r.Context(), me, other(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GET /blocks: a JSON array of the ids the asking user blocks, ascending.
// Who blocks the asking user is not shown: that is the other user's
// business (a send to them answers 403 blocked either way).
func (a *api) listBlocks(w http.ResponseWriter, r *http.Request, me string) error {
	blocked := []string{}
	for other, err := range a.x.Blocked(r.Context(), me) {
		if err != nil {
			return err
		}
		blocked = append(blocked, other)
	}
	writeJSON(w, http.StatusOK, blocked)
	return nil
}
