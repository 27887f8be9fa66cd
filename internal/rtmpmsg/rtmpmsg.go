// Package rtmpmsg encodes the command and status messages an RTMP server
// sends, each sequence in one place for live and recorded plays: statuses,
// the play start, the end of a publish and the end of a recording. It is
// pure (no I/O, no state): every function appends to dst and uses the
// caller's scratch for the AMF0 body so that nothing allocates once the
// buffers have grown.
//
// Status codes are Adobe's (RTMP specification 1.0, section 7.2.2, and the
// NetStream and NetConnection status codes Flash Media Server sends).
package rtmpmsg

import (
	"github.com/quaverlive/quaver/amf0"
	"github.com/quaverlive/quaver/chunkcodec"
)

// Status codes sent to clients.
const (
	CodeConnectSuccess   = "NetConnection.Connect.Success"
	CodeConnectRejected  = "NetConnection.Connect.Rejected"
	CodeCallFailed       = "NetConnection.Call.Failed"
	CodePublishStart     = "NetStream.Publish.Start"
	CodePublishBadName   = "NetStream.Publish.BadName"
	CodePublishRejected  = "NetStream.Publish.Rejected"
	CodeUnpublishSuccess = "NetStream.Unpublish.Success"
	CodePlayReset        = "NetStream.Play.Reset"
	CodePlayStart        = "NetStream.Play.Start"
	CodePlayStop         = "NetStream.Play.Stop"
	CodePlayComplete     = "NetStream.Play.Complete"
	CodePlayFailed       = "NetStream.Play.Failed"
	CodePlayNotFound     = "NetStream.Play.StreamNotFound"
	CodePlayPublish      = "NetStream.Play.PublishNotify"
	CodePlayUnpublish    = "NetStream.Play.UnpublishNotify"
	CodePauseNotify      = "NetStream.Pause.Notify"
	CodeUnpauseNotify    = "NetStream.Unpause.Notify"
	CodeSeekNotify       = "NetStream.Seek.Notify"
	CodeSeekFailed       = "NetStream.Seek.Failed"
)

// AppendCommand appends an AMF0 command body as an RTMP message on the
// command chunk stream.
func AppendCommand(dst []byte, streamID, chunkSize uint32, body []byte) []byte {
	return chunkcodec.AppendMessage(dst, chunkcodec.Header{
		ChunkStreamID: chunkcodec.ChunkStreamCommand,
		TypeID:        chunkcodec.TypeCommandAMF0,
		StreamID:      streamID,
	}, body, chunkSize)
}

// AppendStatus appends onStatus(level, code, description) on streamID;
// *scratch holds the body while it is encoded.
func AppendStatus(dst []byte, scratch *[]byte, streamID, chunkSize uint32, level, code, desc string) []byte {
	b := amf0.AppendOnStatus((*scratch)[:0], 0, level, code, desc)
	dst = AppendCommand(dst, streamID, chunkSize, b)
	*scratch = b[:0]
	return dst
}

// AppendPlayStart appends what a player receives when its play starts, live
// or recorded: Stream Is Recorded, Stream Begin, NetStream.Play.Reset (when
// the play asked for a reset), NetStream.Play.Start and
// |RtmpSampleAccess(true, true), as Flash servers send. (No
// NetStream.Data.Start data message: FFmpeg's FLV demuxer would turn it into
// a spurious data stream.)
func AppendPlayStart(dst []byte, scratch *[]byte, streamID, chunkSize uint32, name string, reset bool) []byte {
	dst = chunkcodec.AppendStreamIsRecorded(dst, streamID)
	dst = chunkcodec.AppendStreamBegin(dst, streamID)
	if reset {
		dst = AppendStatus(dst, scratch, streamID, chunkSize, "status", CodePlayReset, "Playing and resetting "+name+".")
	}
	dst = AppendStatus(dst, scratch, streamID, chunkSize, "status", CodePlayStart, "Started playing "+name+".")
	b := amf0.AppendString((*scratch)[:0], "|RtmpSampleAccess")
	b = amf0.AppendBoolean(b, true)
	b = amf0.AppendBoolean(b, true)
	dst = chunkcodec.AppendMessage(dst, chunkcodec.Header{ChunkStreamID: chunkcodec.ChunkStreamData, TypeID: chunkcodec.TypeDataAMF0, StreamID: streamID}, b, chunkSize)
	*scratch = b[:0]
	return dst
}

// AppendPublishNotify appends what the players of a stream hear when a
// publisher starts: Stream Begin and NetStream.Play.PublishNotify on the play
// stream.
func AppendPublishNotify(dst []byte, chunkSize uint32, name string) []byte {
	body := amf0.AppendOnStatus(nil, 0, "status", CodePlayPublish, name+" is now published.")
	dst = chunkcodec.AppendStreamBegin(dst, chunkcodec.PlayStreamID)
	return chunkcodec.AppendMessage(dst, chunkcodec.Header{ChunkStreamID: chunkcodec.ChunkStreamData, TypeID: chunkcodec.TypeCommandAMF0, StreamID: chunkcodec.PlayStreamID}, body, chunkSize)
}

// AppendUnpublishNotify appends what the players of a stream receive when
// its publisher leaves: NetStream.Play.UnpublishNotify and Stream EOF on the
// play stream.
func AppendUnpublishNotify(dst []byte, chunkSize uint32, name string) []byte {
	body := amf0.AppendOnStatus(nil, 0, "status", CodePlayUnpublish, name+" is now unpublished.")
	dst = chunkcodec.AppendMessage(dst, chunkcodec.Header{
		ChunkStreamID: chunkcodec.ChunkStreamData, TypeID: chunkcodec.TypeCommandAMF0, StreamID: chunkcodec.PlayStreamID,
	}, body, chunkSize)
	return chunkcodec.AppendStreamEOF(dst, chunkcodec.PlayStreamID)
}

// AppendPlayEnd appends the end of a recorded play at timestamp ts: Stream
// EOF, NetStream.Play.Stop and onPlayStatus NetStream.Play.Complete with the
// recording's duration (seconds) and size (bytes).
func AppendPlayEnd(dst []byte, scratch *[]byte, streamID, chunkSize, ts uint32, name string, duration float64, size int64) []byte {
	dst = chunkcodec.AppendStreamEOF(dst, streamID)
	dst = AppendStatus(dst, scratch, streamID, chunkSize, "status", CodePlayStop, "Stopped playing "+name+".")
	b := amf0.AppendString((*scratch)[:0], "onPlayStatus")
	b = amf0.AppendObjectStart(b)
	b = amf0.AppendPropString(b, "level", "status")
	b = amf0.AppendPropString(b, "code", CodePlayComplete)
	b = amf0.AppendPropNumber(b, "duration", duration)
	b = amf0.AppendPropNumber(b, "bytes", float64(size))
	b = amf0.AppendObjectEnd(b)
	dst = chunkcodec.AppendMessage(dst, chunkcodec.Header{ChunkStreamID: chunkcodec.ChunkStreamData, Timestamp: ts, TypeID: chunkcodec.TypeDataAMF0, StreamID: streamID}, b, chunkSize)
	*scratch = b[:0]
	return dst
}
