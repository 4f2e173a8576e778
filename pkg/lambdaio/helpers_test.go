package lambdaio

import (
	"context"
	"fmt"
	"net/http"
)

// detect is the kind Decode finds, for tables of events.
func detect(raw []byte) (Kind, error) {
	e, err := Decode(raw)
	if err != nil {
		return KindUnknown, err
	}
	return e.Kind, nil
}

// decodeAs decodes raw and refuses an event of another kind than want.
func decodeAs(want Kind, raw []byte) (*Event, error) {
	e, err := Decode(raw)
	if err != nil {
		return nil, err
	}
	if e.Kind != want {
		return nil, fmt.Errorf("a %v event, not %v", e.Kind, want)
	}
	return e, nil
}

func toHTTPRequest(ctx context.Context, kind Kind, raw []byte, maxBody int64) (*http.Request, error) {
	e, err := decodeAs(kind, raw)
	if err != nil {
		return nil, err
	}
	return e.HTTPRequest(ctx, maxBody)
}

func serve(ctx context.Context, h http.Handler, kind Kind, raw []byte, maxBody int64) (any, error) {
	e, err := decodeAs(kind, raw)
	if err != nil {
		return nil, err
	}
	return Serve(ctx, h, e, maxBody)
}
