#!/bin/sh
# Makes the test vectors with ffmpeg (Debian's 5.1): tiny tones and clips of
# each container, and durations.txt with what ffprobe says of each.
set -e
F="ffmpeg -hide_banner -loglevel error -y"
A="-f lavfi -i sine=frequency=440:duration=1.5:sample_rate=8000"
$F $A -ac 1 tone.wav
$F $A -ar 8000 -ac 1 -c:a libmp3lame -b:a 16k tone-cbr.mp3
$F $A -ar 22050 -ac 1 -c:a libmp3lame -q:a 9 tone-vbr.mp3
$F $A -ar 8000 -ac 1 -c:a libmp3lame -b:a 16k -id3v2_version 3 -metadata title=Tone -write_xing 0 tone-id3.mp3
$F $A -ar 8000 -ac 1 -c:a libmp3lame -b:a 16k -id3v2_version 0 -write_xing 0 tone-bare.mp3
$F $A -ac 1 -c:a libopus -b:a 8k tone.opus
$F $A -ar 11025 -ac 1 -c:a libvorbis -q:a 0 tone.ogg
$F $A -ac 1 -c:a aac -b:a 16k tone.m4a
$F $A -ac 1 -c:a flac tone.flac
V="-f lavfi -i testsrc=size=64x48:rate=5:duration=2.5"
$F $V -c:v libx264 -pix_fmt yuv420p -crf 40 clip.mp4
$F $V -c:v libx264 -pix_fmt yuv420p -crf 40 -f mov clip.mov
$F $V -c:v libvpx -b:v 20k clip.webm
$F $V -c:v libx264 -pix_fmt yuv420p -crf 40 clip.mkv
# A live recording, as browsers' MediaRecorder writes them: no Duration, a
# Segment of unknown size; the second copy has clusters of unknown size too.
$F -f lavfi -i sine=frequency=440:duration=2.5:sample_rate=48000 -ac 1 -c:a libopus -b:a 16k -f webm -live 1 tone-live.webm
python3 - <<'PY'
b = bytearray(open("tone-live.webm", "rb").read())
i = b.find(b"\x1f\x43\xb6\x75")
while i >= 0:
    l = 1
    while not b[i + 4] & (0x80 >> (l - 1)):
        l += 1
    b[i + 4 : i + 4 + l] = bytes([0xFF >> (l - 1)]) + b"\xff" * (l - 1)
    i = b.find(b"\x1f\x43\xb6\x75", i + 4)
open("tone-live-unknown.webm", "wb").write(bytes(b))
PY
# durations.txt: file, the MIME type media.Type gives, seconds by ffprobe.
type_of() {
  case "$1" in
  *.mkv) echo video/x-matroska ;; *.mov) echo video/quicktime ;; *.mp4) echo video/mp4 ;;
  *.webm) echo video/webm ;; *.flac) echo audio/flac ;; *.m4a) echo audio/mp4 ;;
  *.ogg | *.opus) echo audio/ogg ;; *.wav) echo audio/wav ;; *.mp3) echo audio/mpeg ;;
  esac
}
# ffprobe cannot tell a live recording's length (N/A): the tone's is 2.5 s.
for f in clip.* tone*; do
  d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")
  [ "$d" = N/A ] && d=2.500000
  printf '%s %s %s\n' "$f" "$(type_of "$f")" "$d"
done > durations.txt
