// The upload page with JavaScript: drag & drop or pick many files; each one uploads to
// the REST API with its own progress and speed, then its processing is followed live.
// Without JavaScript the same form posts to the page itself.
(function () {
  "use strict";

  var ZERO_ID = "00000000-0000-0000-0000-000000000000";
  var POLL_MS = 1000;
  var MAX_PARALLEL = 3;
  var TERMINAL = { ready: true, failed: true };

  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest || !window.fetch) {
    return;
  }
  var input = document.getElementById("file-input");
  var zone = document.getElementById("drop-zone");
  var list = document.getElementById("upload-list");
  var pipelineInput = form.querySelector("[name=pipeline]");
  var filesUrl = form.getAttribute("data-api-files");
  var filePage = form.getAttribute("data-file-page");
  var waiting = [];
  var active = 0;

  form.classList.add("js-enabled");

  input.addEventListener("change", function () {
    var files = Array.prototype.slice.call(input.files);
    input.value = "";
    addFiles(files);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    addFiles(Array.prototype.slice.call(input.files));
    input.value = "";
  });
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  ["dragleave", "dragend", "drop"].forEach(function (type) {
    zone.addEventListener(type, function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
    });
  });
  zone.addEventListener("drop", function (event) {
    if (event.dataTransfer && event.dataTransfer.files.length) {
      addFiles(Array.prototype.slice.call(event.dataTransfer.files));
    }
  });
  // A file dropped beside the zone must not make the browser leave the page.
  window.addEventListener("dragover", function (event) { event.preventDefault(); });
  window.addEventListener("drop", function (event) { event.preventDefault(); });

  function addFiles(files) {
    files.forEach(function (file) {
      waiting.push(createRow(file));
    });
    startWaiting();
  }

  function startWaiting() {
    while (active < MAX_PARALLEL && waiting.length) {
      active += 1;
      upload(waiting.shift());
    }
  }

  // --- one row per file ---------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function createRow(file) {
    var row = {
      file: file,
      item: el("li", "upload-row"),
      thumb: el("div", "thumb"),
      name: el("span", "name", file.name),
      state: el("span", "pill", ""),
      progress: el("progress", "bar"),
      detail: el("div", "detail muted", "Waiting to start…"),
      jobs: el("ul", "jobs"),
      error: el("div", "error-text"),
      thumbnailUrl: ""
    };
    var main = el("div", "row-main");
    var title = el("div", "row-title");
    title.appendChild(row.name);
    title.appendChild(el("span", "size muted", formatBytes(file.size)));
    title.appendChild(row.state);
    row.thumb.appendChild(el("span", "ext", extension(file.name)));
    row.progress.max = Math.max(file.size, 1);
    row.progress.value = 0;
    main.appendChild(title);
    main.appendChild(row.progress);
    main.appendChild(row.detail);
    main.appendChild(row.jobs);
    main.appendChild(row.error);
    row.item.appendChild(row.thumb);
    row.item.appendChild(main);
    setState(row, "waiting");
    list.appendChild(row.item);
    return row;
  }

  function setState(row, state) {
    row.state.textContent = state.replace("_", " ");
    row.state.className = "pill state-" + state;
    row.state.setAttribute("data-state", state);
    row.item.setAttribute("data-state", state);
  }

  function fail(row, message) {
    setState(row, "failed");
    row.error.textContent = message;
    row.detail.textContent = "";
  }

  // --- sending the bytes ----------------------------------------------------------------

  function upload(row) {
    var data = new FormData();
    data.append("file", row.file, row.file.name);
    if (pipelineInput && pipelineInput.value.trim()) {
      data.append("pipeline", pipelineInput.value.trim());
    }
    var xhr = new XMLHttpRequest();
    var started = Date.now();
    xhr.open("POST", filesUrl);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) { showProgress(row, event.loaded, event.total, started); }
    });
    xhr.upload.addEventListener("load", function () {
      row.detail.textContent = "Sent; storing and verifying…";
    });
    xhr.addEventListener("load", function () {
      done();
      var body = parseJson(xhr.responseText);
      if (xhr.status === 201 && body && body.id) {
        uploaded(row, body, started);
      } else {
        fail(row, errorMessage(xhr.status, body));
      }
    });
    xhr.addEventListener("error", function () {
      done();
      fail(row, "Network error: the upload did not complete.");
    });
    xhr.addEventListener("abort", function () {
      done();
      fail(row, "The upload was cancelled.");
    });
    setState(row, "uploading");
    row.detail.textContent = "Starting…";
    xhr.send(data);
  }

  function done() {
    active -= 1;
    startWaiting();
  }

  function showProgress(row, loaded, total, started) {
    var seconds = Math.max((Date.now() - started) / 1000, 0.001);
    row.progress.max = Math.max(total, 1);
    row.progress.value = loaded;
    row.detail.textContent =
      Math.floor((100 * loaded) / Math.max(total, 1)) + "% · " +
      formatBytes(loaded) + " of " + formatBytes(total) + " · " +
      formatBytes(loaded / seconds) + "/s";
  }

  function uploaded(row, resource, started) {
    var seconds = Math.max((Date.now() - started) / 1000, 0.001);
    row.progress.value = row.progress.max;
    var link = el("a", "name", row.file.name);
    link.href = filePage.replace(ZERO_ID, resource.id);
    row.name.replaceWith(link);
    row.name = link;
    row.item.setAttribute("data-file-id", resource.id);
    row.uploadSummary = "Uploaded " + formatBytes(row.file.size) + " in " +
      seconds.toFixed(1) + " s (" + formatBytes(row.file.size / seconds) + "/s).";
    render(row, resource);
    if (!TERMINAL[resource.state]) { poll(row, resource.id); }
  }

  // --- following the processing ---------------------------------------------------------

  function poll(row, fileId) {
    window.setTimeout(function () {
      fetch(filesUrl + encodeURIComponent(fileId) + "/", {
        credentials: "same-origin",
        headers: { Accept: "application/json" }
      }).then(function (response) {
        return response.text().then(function (text) {
          var body = parseJson(text);
          if (response.ok && body) {
            render(row, body);
            if (!TERMINAL[body.state]) { poll(row, fileId); }
          } else if (response.status >= 500) {
            row.detail.textContent = "The server is busy; retrying…";
            poll(row, fileId);
          } else {
            fail(row, errorMessage(response.status, body));
          }
        });
      }).catch(function () {
        row.detail.textContent = "Connection lost; retrying…";
        poll(row, fileId);
      });
    }, POLL_MS);
  }

  function render(row, resource) {
    setState(row, resource.state);
    row.detail.textContent = describe(resource, row.uploadSummary);
    renderJobs(row, resource.jobs || []);
    var failures = (resource.jobs || []).filter(function (job) {
      return job.state === "failed" && job.error;
    });
    row.error.textContent = failures.map(function (job) {
      return job.step + ": " + job.error;
    }).join(" · ");
    renderThumbnail(row, resource.derivatives || []);
  }

  function describe(resource, uploadSummary) {
    var jobs = resource.jobs || [];
    var finished = jobs.filter(function (job) { return job.state === "succeeded"; }).length;
    var prefix = uploadSummary ? uploadSummary + " " : "";
    if (resource.state === "ready") { return prefix + "Ready."; }
    if (resource.state === "failed") { return prefix + "Processing failed."; }
    if (!jobs.length) { return prefix + "Stored."; }
    return prefix + "Processing: " + finished + " of " + jobs.length + " steps done.";
  }

  function renderJobs(row, jobs) {
    row.jobs.textContent = "";
    jobs.forEach(function (job) {
      var item = el("li", "job state-" + job.state);
      item.setAttribute("data-step", job.step);
      item.setAttribute("data-state", job.state);
      item.appendChild(el("code", "", job.step));
      item.appendChild(document.createTextNode(" " + job.state));
      if (job.attempts > 1) { item.appendChild(el("span", "muted", " (attempt " + job.attempts + ")")); }
      row.jobs.appendChild(item);
    });
  }

  function renderThumbnail(row, derivatives) {
    var thumbnail = derivatives.filter(function (d) {
      return d.kind.indexOf("thumbnail") === 0 && d.url;
    })[0];
    if (!thumbnail || thumbnail.url === row.thumbnailUrl) { return; }
    row.thumbnailUrl = thumbnail.url;
    var image = el("img", "thumbnail");
    image.alt = "Thumbnail of " + row.file.name;
    image.src = thumbnail.url;
    row.thumb.textContent = "";
    row.thumb.appendChild(image);
  }

  // --- helpers --------------------------------------------------------------------------

  function csrfToken() {
    var field = form.querySelector("[name=csrfmiddlewaretoken]");
    if (field && field.value) { return field.value; }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function extension(name) {
    var dot = name.lastIndexOf(".");
    return dot > 0 && name.length - dot <= 5 ? name.slice(dot + 1).toUpperCase() : "";
  }

  function parseJson(text) {
    try { return JSON.parse(text); } catch (error) { return null; }
  }

  function errorMessage(status, body) {
    if (body && body.error && body.error.message) { return body.error.message; }
    if (status === 0) { return "Network error: the server could not be reached."; }
    if (status === 401 || status === 403) { return "Your session has ended; sign in again."; }
    if (status === 413) { return "The file is too large for the server."; }
    return "The server answered with an error (HTTP " + status + ").";
  }

  function formatBytes(bytes) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    var value = Number(bytes) || 0;
    var unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return (unit === 0 ? String(Math.round(value)) : value.toFixed(1)) + " " + units[unit];
  }
}());
