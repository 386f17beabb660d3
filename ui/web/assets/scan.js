// Starting a chat by scanning a Sky ID's QR code: with the camera (frames
// drawn to a canvas and sent to the local sky process, which decodes them)
// or from a picture file. Nothing is decoded or sent anywhere else.

import { h } from './dom.js';
import { APIError } from './api.js';

// scanPicture sends a picture to the local sky process, which decodes the
// QR code in it; the answer is the Sky ID it holds.
async function scanPicture(blob) {
  let res;
  try {
    res = await fetch('/api/scan', {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: { 'Content-Type': blob.type === 'image/jpeg' ? 'image/jpeg' : 'image/png' }, body: blob,
    });
  } catch (e) {
    throw new APIError('Sky (the sky web process on this computer) does not answer. Is it still running?', 0);
  }
  let data = {};
  try { data = await res.json(); } catch (e) { /* reported below */ }
  if (!res.ok) throw new APIError(data.error || `Sky answered ${res.status}`, res.status, data);
  return data.id;
}

// frameOf draws the video's current frame to a PNG.
function frameOf(video) {
  const c = document.createElement('canvas');
  c.width = video.videoWidth;
  c.height = video.videoHeight;
  c.getContext('2d').drawImage(video, 0, 0);
  return new Promise((resolve) => c.toBlob(resolve, 'image/png'));
}

// scanner makes the scanning part of the New chat dialog: a button that
// turns the camera on and scans its frames until a Sky ID's code shows,
// and a picture file to scan instead. found(id) gets the ID; stop() turns
// the camera off (the dialog calls it when it closes).
export function scanner(found) {
  const status = h('p', { class: 'muted small', role: 'status' });
  const video = h('video', { class: 'scan-video', muted: true, playsinline: true, hidden: true, 'aria-label': 'Camera' });
  let stream = null;
  let timer = null;
  let busy = false;
  const stop = () => {
    clearInterval(timer);
    timer = null;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    camera.textContent = 'Scan QR code';
  };
  const done = (id) => {
    stop();
    status.textContent = `Found the Sky ID ${id}.`;
    found(id);
  };
  const tryFrame = async () => {
    if (busy || !stream || !video.videoWidth) return;
    busy = true;
    try {
      const id = await scanPicture(await frameOf(video));
      if (id && stream) done(id);
    } catch (e) {
      if (e.status !== 422) status.textContent = e.message; // 422: no code in this frame yet
    } finally {
      busy = false;
    }
  };
  const camera = h('button', {
    type: 'button', text: 'Scan QR code', onclick: async () => {
      if (stream) {
        stop();
        status.textContent = '';
        return;
      }
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      } catch (e) {
        status.textContent = `The camera is not available (${e.name}); choose a picture of the code instead.`;
        return;
      }
      video.srcObject = stream;
      video.hidden = false;
      video.play().catch(() => {});
      camera.textContent = 'Stop camera';
      status.textContent = 'Hold the QR code in front of the camera.';
      timer = setInterval(tryFrame, 300);
    },
  });
  const file = h('input', {
    type: 'file', accept: 'image/png,image/jpeg', 'aria-label': 'QR code picture', onchange: async () => {
      const f = file.files[0];
      if (!f) return;
      status.textContent = 'Reading the picture…';
      try {
        done(await scanPicture(f));
      } catch (e) {
        status.textContent = e.message;
      }
      file.value = '';
    },
  });
  const el = h('div', { class: 'scan' },
    h('div', { class: 'row' }, camera, h('label', { class: 'muted small' }, 'or a picture of it: ', file)), video, status);
  return { el, stop };
}
