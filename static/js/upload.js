// Drag-and-drop and file-picker uploads, of files or whole folders: one request per file, each with its own
// progress bar, one after the other in the order chosen (a folder's files by their path), with one bar for them
// all. A folder's files that are not audio by their name are left out, and the line says how many. The
// server answers with the library row (inserted at once) or a message saying what is wrong. An upload's
// line goes once its row shows the analysis under way (the row says the rest); a refusal's stays.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("upload-input");
  const list = document.getElementById("uploads");
  const maxBytes = Number(form.dataset.maxBytes) * 1024 * 1024;
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const folderInput = document.getElementById("upload-folder");
  const overall = document.getElementById("upload-overall");
  const AUDIO = /\.(mp3|wav|wave|flac|ogg|oga|opus|m4a|mp4|aac)$/i;
  const AT_ONCE = 1;  // in order: each song stored before the next is sent
  const queue = [];
  let running = 0;
  const batch = { files: 0, done: 0, bytes: 0, sent: 0, skipped: 0 };

  function showOverall() {
    if (!overall) return;
    overall.hidden = batch.files < 2 && !batch.skipped;
    const bar = overall.querySelector("progress");
    bar.max = batch.bytes || 1;
    bar.value = batch.sent;
    const mb = (n) => (n / 1048576).toFixed(n < 10485760 ? 1 : 0);
    overall.querySelector("[data-overall-text]").textContent =
      `${batch.done} of ${batch.files} songs sent · ${mb(batch.sent)} of ${mb(batch.bytes)} MB`
      + (batch.skipped ? ` · ${batch.skipped} file${batch.skipped === 1 ? "" : "s"} left out (not audio)` : "");
  }

  // Files one after the other (AT_ONCE at a time); each counts in the one bar for the lot.
  function enqueue(files, skipped = 0) {
    if (running === 0 && queue.length === 0) Object.assign(batch, { files: 0, done: 0, bytes: 0, sent: 0, skipped: 0 });
    batch.skipped += skipped;
    for (const file of files) {
      queue.push(file);
      batch.files += 1;
      batch.bytes += file.size;
    }
    showOverall();
    pump();
  }

  function pump() {
    while (running < AT_ONCE && queue.length) {
      running += 1;
      send(queue.shift(), function (file, sent) {
        running -= 1;
        batch.done += 1;
        batch.sent += sent;
        showOverall();
        pump();
      });
    }
  }

  // A folder dropped: its audio files and those of the folders in it, by path.
  function walk(entry, found) {
    return new Promise(function (done) {
      if (entry.isFile) {
        entry.file(function (file) { found.push([entry.fullPath, file]); done(); }, function () { done(); });
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        const all = [];
        (function more() {  // a reader gives a folder's entries a hundred or so at a time
          reader.readEntries(function (entries) {
            if (!entries.length) { Promise.all(all.map((e) => walk(e, found))).then(() => done()); return; }
            all.push(...entries);
            more();
          }, function () { done(); });
        })();
      } else {
        done();
      }
    });
  }

  function byPath(pairs) {
    const order = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
    pairs.sort((a, b) => order.compare(a[0], b[0]));
    const audio = pairs.filter(([path]) => AUDIO.test(path)).map(([, file]) => file);
    return [audio, pairs.length - audio.length];
  }

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

  function send(file, finished) {
    const ui = item(file);
    let last = 0;
    const end = function () { finished(file, file.size); };
    if (file.size > maxBytes) {
      ui.li.classList.add("failed");
      ui.note.innerHTML = "";
      const err = document.createElement("span");
      err.className = "upload-error";
      err.textContent = "Too large: the limit is " + form.dataset.maxBytes + " MB.";
      ui.note.appendChild(err);
      end();
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
      batch.sent += e.loaded - last;  // the lot's bar moves with each file's
      last = e.loaded;
      showOverall();
    };
    xhr.onloadend = function () {
      batch.sent -= last;  // counted whole by finished()
      end();
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

  input.addEventListener("change", function () { enqueue(Array.from(input.files)); input.value = ""; });
  if (folderInput) {
    folderInput.addEventListener("change", function () {
      enqueue(...byPath(Array.from(folderInput.files).map((f) => [f.webkitRelativePath || f.name, f])));
      folderInput.value = "";
    });
  }
  // Real buttons open the pickers, so keyboards and screen readers can upload too.
  form.querySelector("[data-pick]").addEventListener("click", function () { input.click(); });
  const pickFolder = form.querySelector("[data-pick-folder]");
  if (pickFolder && folderInput) pickFolder.addEventListener("click", function () { folderInput.click(); });
  ["dragenter", "dragover"].forEach(function (t) {
    form.addEventListener(t, function (e) { e.preventDefault(); form.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    form.addEventListener(t, function (e) { e.preventDefault(); form.classList.remove("over"); });
  });
  form.addEventListener("drop", function (e) {
    const entries = Array.from(e.dataTransfer.items || [])
      .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
    if (!entries.some((entry) => entry && entry.isDirectory)) { enqueue(Array.from(e.dataTransfer.files)); return; }
    const found = [];
    Promise.all(entries.filter(Boolean).map((entry) => walk(entry, found))).then(function () {
      enqueue(...byPath(found));
    });
  });
})();
