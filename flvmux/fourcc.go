package flvmux

// FourCC is a four-character code identifying a codec in Enhanced RTMP: the
// four ASCII bytes in wire order, big-endian, so FourCCAVC1 is 0x61766331
// ("avc1"). The same number is what Enhanced RTMP writes as videocodecid or
// audiocodecid in onMetaData.
type FourCC uint32

// Video FourCCs (Enhanced RTMP, VideoFourCc).
const (
	FourCCAVC1 FourCC = 'a'<<24 | 'v'<<16 | 'c'<<8 | '1' // H.264 / AVC
	FourCCHVC1 FourCC = 'h'<<24 | 'v'<<16 | 'c'<<8 | '1' // H.265 / HEVC
	FourCCVP08 FourCC = 'v'<<24 | 'p'<<16 | '0'<<8 | '8' // VP8
	FourCCVP09 FourCC = 'v'<<24 | 'p'<<16 | '0'<<8 | '9' // VP9
	FourCCAV01 FourCC = 'a'<<24 | 'v'<<16 | '0'<<8 | '1' // AV1
)

// Audio FourCCs (Enhanced RTMP, AudioFourCc).
const (
	FourCCMP4A FourCC = 'm'<<24 | 'p'<<16 | '4'<<8 | 'a' // AAC
	FourCCOpus FourCC = 'O'<<24 | 'p'<<16 | 'u'<<8 | 's' // Opus
	FourCCFLAC FourCC = 'f'<<24 | 'L'<<16 | 'a'<<8 | 'C' // FLAC
	FourCCMP3  FourCC = '.'<<24 | 'm'<<16 | 'p'<<8 | '3' // MP3
	FourCCAC3  FourCC = 'a'<<24 | 'c'<<16 | '-'<<8 | '3' // AC-3
	FourCCEAC3 FourCC = 'e'<<24 | 'c'<<16 | '-'<<8 | '3' // E-AC-3
)

// String returns the four characters when they are printable ASCII, and
// otherwise the value in hexadecimal ("0x0000000c").
func (f FourCC) String() string {
	b := [4]byte{byte(f >> 24), byte(f >> 16), byte(f >> 8), byte(f)}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			const hex = "0123456789abcdef"
			var s [10]byte
			s[0], s[1] = '0', 'x'
			for i := range 8 {
				s[2+i] = hex[(f>>(28-4*uint(i)))&0xf]
			}
			return string(s[:])
		}
	}
	return string(b[:])
}

// IsVideo reports whether f is one of the video FourCCs Enhanced RTMP
// defines.
func (f FourCC) IsVideo() bool {
	switch f {
	case FourCCAVC1, FourCCHVC1, FourCCVP08, FourCCVP09, FourCCAV01:
		return true
	}
	return false
}

// IsAudio reports whether f is one of the audio FourCCs Enhanced RTMP
// defines.
func (f FourCC) IsAudio() bool {
	switch f {
	case FourCCMP4A, FourCCOpus, FourCCFLAC, FourCCMP3, FourCCAC3, FourCCEAC3:
		return true
	}
	return false
}

// readFourCC decodes the big-endian FourCC at b[0:4]; len(b) >= 4.
func readFourCC(b []byte) FourCC {
	_ = b[3]
	return FourCC(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
}
