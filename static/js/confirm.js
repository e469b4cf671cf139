// Forms that ask before they act: <form data-confirm="Delete this track?">. A script, not an onsubmit
// attribute, because the page's Content-Security-Policy allows no inline handlers.
document.addEventListener("submit", (event) => {
  const form = event.target.closest && event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
