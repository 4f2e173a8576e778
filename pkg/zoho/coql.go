package zoho

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
)

// MaxCOQLRows is the most rows one COQL call answers (zoho-crm-api.md
// section 8; some pages say 200: Zoho then answers LIMIT_EXCEEDED).
const MaxCOQLRows = 2000

// COQLRow is one row of a COQL answer: the record's id, and every field
// as Zoho sent it.
type COQLRow struct {
	ID     string
	Fields map[string]json.RawMessage
}

// COQL runs one select query (POST /crm/{version}/coql) and returns its
// rows and whether Zoho has more (info.more_records). No match (204) is no
// rows and no error. An error is always an *APIError: INVALID_QUERY (its
// details name the clause), SYNTAX_ERROR, LIMIT_EXCEEDED and
// OAUTH_SCOPE_MISMATCH (no ZohoCRM.coql.READ) are Permanent.
func (c *Client) COQL(ctx context.Context, query string) (rows []COQLRow, more bool, err error) {
	const op = "coql"
	body, err := MarshalNoEscape(map[string]string{"select_query": query})
	if err != nil {
		return nil, false, &APIError{Op: op, Class: Permanent, IDIndex: -1, Message: "query does not encode", Err: err}
	}
	// A select changes nothing: a lost answer is retried like a GET's
	// (transportError).
	resp, err := c.call(ctx, op, http.MethodPost, coqlPath, nil, body, nil)
	if err != nil {
		return nil, false, err
	}
	if resp.status == http.StatusNoContent || len(bytes.TrimSpace(resp.body)) == 0 {
		return nil, false, nil
	}
	var env struct {
		Data []map[string]json.RawMessage `json:"data"`
		Info struct {
			More bool `json:"more_records"`
		} `json:"info"`
	}
	if err := json.Unmarshal(resp.body, &env); err != nil {
		return nil, false, &APIError{Op: op, HTTPStatus: resp.status, Class: Retryable, IDIndex: -1,
			Message: describeUnreadable(resp.body, err), Err: err}
	}
	rows = make([]COQLRow, 0, len(env.Data))
	for i, rec := range env.Data {
		id := idString(rec["id"])
		if id == "" {
			return nil, false, &APIError{Op: op, HTTPStatus: resp.status, Class: Retryable, IDIndex: -1,
				Message: "a row without an id: data[" + strconv.Itoa(i) + "]"}
		}
		rows = append(rows, COQLRow{ID: id, Fields: rec})
	}
	return rows, env.Info.More, nil
}

// MarshalNoEscape is json.Marshal without HTML escaping: <, > and & stay
// one byte each (a query's comparisons; options and queued requests, which
// escaping would let outgrow the item or message that carries them).
func MarshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
