package rtmpmsg

import (
	"slices"
	"testing"

	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
)

// decode lists the messages in b: "name code" for commands and data
// messages, "uc event" for user control events, each with the stream it is
// about.
func decode(t *testing.T, b []byte) []string {
	t.Helper()
	dec := chunkcodec.NewDecoder(chunkcodec.DecoderConfig{})
	var doc amf0.Document
	var out []string
	for len(b) > 0 {
		n, m, err := dec.Feed(b)
		if err != nil {
			t.Fatal(err)
		}
		b = b[n:]
		if m == nil {
			continue
		}
		line, sid := "", m.StreamID
		switch m.TypeID {
		case chunkcodec.TypeCommandAMF0, chunkcodec.TypeDataAMF0:
			if _, err := doc.Decode(m.Payload); err != nil {
				t.Fatal(err)
			}
			line = doc.At(0).Str()
			for i := 1; i < doc.Len(); i++ {
				if c := doc.At(i).Get("code"); c.Valid() {
					line += " " + c.Str()
				}
			}
		case chunkcodec.TypeUserControl:
			uc, _ := chunkcodec.ParseUserControl(m.Payload)
			line, sid = "uc "+string(rune('0'+uc.Event)), uc.Data // the event names the stream; the message is on stream 0
		}
		out = append(out, line+" @"+string(rune('0'+sid)))
	}
	return out
}

func TestSequences(t *testing.T) {
	var scratch []byte
	cases := []struct {
		name string
		b    []byte
		want []string
	}{
		{"status", AppendStatus(nil, &scratch, 1, 128, "status", CodePublishStart, "x"), []string{"onStatus NetStream.Publish.Start @1"}},
		{"play start with reset", AppendPlayStart(nil, &scratch, 1, 128, "cam", true),
			[]string{"uc 4 @1", "uc 0 @1", "onStatus NetStream.Play.Reset @1", "onStatus NetStream.Play.Start @1", "|RtmpSampleAccess @1"}},
		{"play start without reset", AppendPlayStart(nil, &scratch, 2, 4096, "cam", false),
			[]string{"uc 4 @2", "uc 0 @2", "onStatus NetStream.Play.Start @2", "|RtmpSampleAccess @2"}},
		{"publish notify", AppendPublishNotify(nil, 4096, "cam"), []string{"uc 0 @1", "onStatus NetStream.Play.PublishNotify @1"}},
		{"unpublish notify", AppendUnpublishNotify(nil, 4096, "cam"), []string{"onStatus NetStream.Play.UnpublishNotify @1", "uc 1 @1"}},
		{"end of a recording", AppendPlayEnd(nil, &scratch, 1, 4096, 9000, "cam", 9, 1000),
			[]string{"uc 1 @1", "onStatus NetStream.Play.Stop @1", "onPlayStatus NetStream.Play.Complete @1"}},
	}
	for _, c := range cases {
		if got := decode(t, c.b); !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got  %q\n want %q", c.name, got, c.want)
		}
	}
}

// Statuses and the play start allocate nothing once the buffers have grown.
func TestAllocs(t *testing.T) {
	dst := make([]byte, 0, 4096)
	scratch := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() {
		dst = AppendPlayStart(dst[:0], &scratch, 1, 4096, "cam", true)
		dst = AppendStatus(dst, &scratch, 1, 4096, "status", CodePauseNotify, "Paused.")
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
