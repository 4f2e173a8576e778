package convert

import (
	"fmt"
	"testing"
)

// BenchmarkDecode1000 decodes one SQS batch's worth of typical requests:
// 1,000 messages, one lead each, the same Deals.
//
//	go test -run '^$' -bench Decode1000 -benchmem ./pkg/convert/
func BenchmarkDecode1000(b *testing.B) {
	bodies := make([][]byte, 1000)
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"ids":["36523970000%08d"],"assign_to":{"id":"%s"},%s}`, i, reqTestOwner, reqTestDeal)
	}
	b.ReportAllocs()
	for b.Loop() {
		d := Decoder{APIVersion: "v7"}
		for _, body := range bodies {
			if _, err := d.JSON(body); err != nil {
				b.Fatal(err)
			}
		}
	}
}
