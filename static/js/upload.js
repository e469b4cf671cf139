// Drag-and-drop and file-picker uploads: one request per file, each with its own progress bar.
// The server answers with the library row (inserted at once) or a message saying what is wrong. An upload's
// line goes once its row shows the analysis under way (the row says the rest); a refusal's stays.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("upload-input");
  const list = document.getElementById("uploads");
  const maxBytes = Number(form.dataset.maxBytes) * 1024 * 1024;
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function item(file) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-label", "Uploading " + file.name);
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.setAttribute("aria-valuenow", "0");
    const fill = document.createElement("span");
    fill.style.width = "0%";
    bar.appendChild(fill);
    const note = document.createElement("span");
    note.className = "note";
    note.textContent = "waiting";
    li.append(name, bar, note);
    list.prepend(li);
    return { li, bar, fill, note };
  }

  const waiting = new Map();  // row id -> the upload's line, until the row's analysis starts

  function settle() {
    waiting.forEach(function (li, id) {
      const row = document.getElementById(id);
      if (row && row.querySelector(".badge.running, .badge.succeeded, .badge.failed")) {
        li.remove();
        waiting.delete(id);
      }
    });
  }
  // Rows change by pushes (one row, or the whole list): look again after each.
  new MutationObserver(function () { if (waiting.size) settle(); })
    .observe(document.querySelector("main") || document.body, { childList: true, subtree: true });

  function insertRow(html, li) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    const row = template.content.firstElementChild;
    if (!row) return;
    waiting.set(row.id, li);
    const existing = document.getElementById(row.id);
    if (existing) existing.replaceWith(row);
    else document.getElementById("track-rows").prepend(row);
    const empty = document.querySelector("#track-list .empty");
    if (empty) empty.remove();
    if (window.htmx) window.htmx.process(row);
    settle();
  }

  function send(file) {
    const ui = item(file);
    if (file.size > maxBytes) {
      ui.li.classList.add("failed");
      ui.note.innerHTML = "";
      const err = document.createElement("span");
      err.className = "upload-error";
      err.textContent = "Too large: the limit is " + form.dataset.maxBytes + " MB.";
      ui.note.appendChild(err);
      return;
    }
    const data = new FormData();
    data.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      const pct = Math.round((e.loaded / e.total) * 100);
      ui.fill.style.width = pct + "%";
      ui.bar.setAttribute("aria-valuenow", String(pct));
      ui.note.textContent = pct < 100 ? "uploading " + pct + "%" : "checking the audio…";
    };
    xhr.onload = function () {
      ui.fill.style.width = "100%";
      if (xhr.status === 201) {
        ui.note.textContent = "uploaded, analysis queued";
        insertRow(xhr.responseText, ui.li);
      } else if ([400, 409, 413, 429].includes(xhr.status)) {
        ui.li.classList.add("failed");
        if ((xhr.getResponseHeader("Content-Type") || "").startsWith("text/html")) {
          ui.note.innerHTML = xhr.responseText;  // a server-rendered, escaped partial
        } else {
          ui.note.textContent = xhr.responseText;  // the web server's own answer (soundforge/web.py)
        }
      } else {
        ui.li.classList.add("failed");
        ui.note.textContent = "failed (" + xhr.status + ")";
      }
    };
    xhr.onerror = function () { ui.li.classList.add("failed"); ui.note.textContent = "network error"; };
    xhr.send(data);
  }

  function sendAll(files) { Array.from(files).forEach(send); }

  input.addEventListener("change", function () { sendAll(input.files); input.value = ""; });
  // A real button opens the picker, so keyboards and screen readers can upload too.
  form.querySelector("[data-pick]").addEventListener("click", function () { input.click(); });
  ["dragenter", "dragover"].forEach(function (t) {
    form.addEventListener(t, function (e) { e.preventDefault(); form.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    form.addEventListener(t, function (e) { e.preventDefault(); form.classList.remove("over"); });
  });
  form.addEventListener("drop", function (e) { sendAll(e.dataTransfer.files); });
})();
