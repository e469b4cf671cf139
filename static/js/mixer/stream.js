// Bytes to sound: a stem's download as it arrives, the library scripts the mixer loads once.

export const HEAD_BYTES = 128 * 1024;  // about 8 s of a stem at 128 kbit/s: what plays first
export const MIDDLE_BYTES = 1024 * 1024;  // about a minute: what plays while the whole is decoded

export function joined(chunks) {
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) { bytes.set(chunk, at); at += chunk.length; }
  return bytes;
}

// The complete Ogg pages at the start of a partial download (each page begins "OggS"); anything else (an
// MP3, whose frames stand alone) as it is.
export function wholePages(bytes) {
  for (let i = bytes.length - 4; i > 0; i--) {
    if (bytes[i] === 0x4f && bytes[i + 1] === 0x67 && bytes[i + 2] === 0x67 && bytes[i + 3] === 0x53) {
      return bytes.slice(0, i).buffer;
    }
  }
  return bytes.slice().buffer;
}

// A script of this site's (the CSP allows no other), once.
export function loadScript(src) {
  return new Promise((resolve, reject) => {
    const tag = document.createElement("script");
    tag.src = src;
    tag.onload = resolve;
    tag.onerror = () => reject(new Error("could not load " + src));
    document.head.appendChild(tag);
  });
}

export function channels(buffer) {
  return Array.from({ length: buffer.numberOfChannels }, (_, c) => buffer.getChannelData(c));
}
