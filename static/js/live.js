// Live pages: when the server loses Redis for a moment it closes a page's socket with 4012, "open me again".
// The htmx ws extension reopens by itself only after 1006, 1011, 1012 and 1013, and a server may not send
// 1012; so this reopens after 4012, after a short random pause (pages do not all come back at once). The new
// socket is sent the current fragments, so the page catches up with what it missed.
document.addEventListener("htmx:wsClose", (event) => {
  if (event.detail.event.code !== 4012) return;
  setTimeout(() => event.detail.socketWrapper.reconnect(), 500 + Math.random() * 1500);
});
