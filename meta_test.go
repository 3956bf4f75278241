package messaging_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socialkit/messaging"
)

func TestMetadata(t *testing.T) {
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		all := subscribe(t, x, "")
		daves := subscribe(t, x, "dave")
		meta := map[string]string{"attachment": "https://files.example/p/42.jpg", "type": "image/jpeg", "size": "48213"}
		m, err := x.SendMessage(ctx, "bob", "dave", "", messaging.WithMeta(meta)) // a photo: no text
		require.NoError(t, err)
		assert.Equal(t, meta, m.Meta)
		meta["size"] = "0" // the caller's map, changed after the send
		m.Meta["type"] = "changed"

		want := map[string]string{"attachment": "https://files.example/p/42.jpg", "type": "image/jpeg", "size": "48213"}
		for _, side := range [][2]string{{"bob", "dave"}, {"dave", "bob"}} {
			c := conv(t, x, side[0], side[1])
			msgs := collect(t, c.Messages(ctx))
			require.Len(t, msgs, 1)
			assert.Equal(t, want, msgs[0].Meta, "%s's copy", side[0])
			assert.Equal(t, want, c.LastMessage.Meta, "%s's preview", side[0])
			msgs[0].Meta["attachment"] = "mine now"
			c.LastMessage.Meta["type"] = "mine too"
			page, err := c.Older(ctx, 0, 10)
			require.NoError(t, err)
			assert.Equal(t, want, page[0].Meta, "no aliasing between reads")
			assert.Equal(t, want, conv(t, x, side[0], side[1]).LastMessage.Meta, "no aliasing between previews")
		}
		// Each subscriber's event is its own: one that changes the map
		// changes nothing for the others, nor for a later resume.
		next(t, daves).Message.Meta["size"] = "changed by dave's subscriber"
		assert.Equal(t, want, next(t, all).Message.Meta, "in the sent event")
		assert.Equal(t, want, next(t, all).Message.Meta, "in the received event")
		assert.Equal(t, want, next(t, subscribeFrom(t, x, "dave", 0)).Message.Meta, "in the resumed event")

		plain := send(t, x, "bob", "dave", "no metadata")
		assert.Nil(t, plain.Meta)
		_, err = x.SendMessage(ctx, "bob", "dave", "", messaging.WithMeta(map[string]string{}))
		assert.ErrorIs(t, err, messaging.ErrEmptyMessage, "an empty map is no metadata")
	})
}

func TestMetadataLimits(t *testing.T) {
	many := map[string]string{}
	for i := range messaging.MaxMetaEntries + 1 {
		many[fmt.Sprint("k", i)] = "v"
	}
	exact := map[string]string{}
	for i := range messaging.MaxMetaEntries {
		exact[fmt.Sprintf("k%02d", i)] = strings.Repeat("v", messaging.MaxMetaBytes/messaging.MaxMetaEntries-3)
	}
	tests := []struct {
		name string
		meta map[string]string
		ok   bool
	}{
		{"33 entries", many, false},
		{"32 entries at 16 KiB", exact, true},
		{"over 16 KiB", map[string]string{"k": strings.Repeat("v", messaging.MaxMetaBytes)}, false},
		{"empty key", map[string]string{"": "v"}, false},
		{"64-byte key", map[string]string{strings.Repeat("k", 64): "v"}, true},
		{"65-byte key", map[string]string{strings.Repeat("k", 65): "v"}, false},
		{"key with a control character", map[string]string{"a\nb": "v"}, false},
		{"key not UTF-8", map[string]string{"\xff": "v"}, false},
		{"value not UTF-8", map[string]string{"k": "\xff"}, false},
		{"empty value", map[string]string{"k": ""}, true},
		{"value with NUL and newlines", map[string]string{"k": "a\x00b\nc"}, true},
	}
	eachStore(t, func(t *testing.T, x *messaging.Inboxes) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := snapshot(t, x)
				_, err := x.SendMessage(ctx, "bob", "dave", "x", messaging.WithMeta(tt.meta))
				if tt.ok {
					assert.NoError(t, err)
					return
				}
				assert.ErrorIs(t, err, messaging.ErrInvalidMeta)
				var ie *messaging.InputError
				require.ErrorAs(t, err, &ie)
				assert.Equal(t, "meta", ie.Field)
				assert.Equal(t, before, snapshot(t, x), "nothing written")
			})
		}
	})
}
