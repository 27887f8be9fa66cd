package fanout

import (
	"testing"

	"github.com/quaverlive/quaver/chunkcodec"
)

// A publisher that leaves with SuspendPublishAs keeps its players: an RTMP
// and an FLV player receive the next publisher's sequence headers and frames
// with timestamps that continue theirs; a recording (EndOnSuspend) ends where
// the first publisher left; EndWaiting then ends the players, and a second
// EndWaiting (or one after a new publisher) does nothing.
func TestSuspendKeepsPlayersForTheNextPublisher(t *testing.T) {
	h, l := newTestHub(Config{})
	st := h.NewStream(StreamOptions{GOPCache: true})
	e1 := st.BeginPublish()
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	st.Publish(chunkcodec.TypeVideo, 1000, key(0))
	rtmp := newDecodeSink(h.Config().ChunkSize)
	flv := &rawSink{}
	rec := &rawSink{}
	st.Subscribe(l, rtmp, SubscriberOptions{})
	st.Subscribe(l, flv, SubscriberOptions{Format: FormatFLV})
	st.Subscribe(l, rec, SubscriberOptions{Format: FormatFLV, EndOnSuspend: true})
	st.Publish(chunkcodec.TypeVideo, 1040, inter(1))
	l.run()
	eof := chunkcodec.AppendStreamEOF(nil, 1)
	if !st.SuspendPublishAs(e1, eof) || st.SuspendPublishAs(e1, eof) {
		t.Fatal("suspend of the current publisher refused, or of a suspended one accepted")
	}
	l.run()
	if !rec.eos || flv.eos || st.Subscribers() != 2 {
		t.Fatalf("after the publisher left: recording ended %v, FLV player ended %v, %d subscribers", rec.eos, flv.eos, st.Subscribers())
	}
	recBytes := len(rec.buf)

	e2 := st.BeginPublish()
	if st.EndWaiting() {
		t.Fatal("EndWaiting ended a stream with a publisher")
	}
	st.Publish(chunkcodec.TypeVideo, 0, avcSeq())
	st.Publish(chunkcodec.TypeVideo, 0, key(2))
	st.Publish(chunkcodec.TypeVideo, 40, inter(3))
	l.run()
	var last uint32
	seqHeaders := 0
	for _, m := range rtmp.msgs {
		if m.typeID == chunkcodec.TypeUserControl {
			t.Fatalf("RTMP player got a control message before the end: %+v", rtmp.msgs)
		}
		if m.ts < last {
			t.Fatalf("timestamp went back from %d to %d: %+v", last, m.ts, rtmp.msgs)
		}
		last = m.ts
		if len(m.data) > 1 && m.data[1] == 0 {
			seqHeaders++
		}
	}
	if seqHeaders != 2 || last < 80 { // from the player's first frame (the keyframe at 1000)
		t.Fatalf("RTMP player: %d sequence headers, last timestamp %d: %+v", seqHeaders, last, rtmp.msgs)
	}
	if len(rec.buf) != recBytes {
		t.Fatal("the ended recording received the next publisher's frames")
	}

	if !st.SuspendPublishAs(e2, eof) || !st.EndWaiting() || st.EndWaiting() {
		t.Fatal("EndWaiting after a suspend did not end exactly once")
	}
	l.run()
	if !flv.eos || st.Subscribers() != 1 || rtmp.msgs[len(rtmp.msgs)-1].typeID != chunkcodec.TypeUserControl {
		t.Fatalf("after EndWaiting: FLV player ended %v, %d subscribers, RTMP player's last message %+v", flv.eos, st.Subscribers(), rtmp.msgs[len(rtmp.msgs)-1])
	}
}
