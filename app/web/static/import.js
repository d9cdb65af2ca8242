// Labels from what the reader has: the "Getting started" form (pasted ids or URLs, or a BibTeX /
// Zotero / CSV file) and the ticked papers of /seed both go to POST /labels/import, and the
// report is shown in plain words. Writes go through write.js (the API token, asked once).
(function () {
  const post = (url, data) => window.arxivRecoWrite("POST", url, data);  // write.js

  function show(box, text, failed) {
    box.hidden = false;
    box.textContent = text;
    box.classList.toggle("error", failed);
  }

  // The report's lines, or why nothing was imported.
  async function importAndShow(url, data, box, button, train) {
    button.disabled = true;
    show(box, "Importing… (papers not stored yet are fetched from arXiv)", false);
    try {
      const response = await post(url, data);
      if (!response) { show(box, "Nothing imported: no answer from the service.", true); return; }
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        show(box, body.summary.join("\n"), false);
        const counter = document.getElementById("label-count");
        if (counter) counter.textContent = String(Number(counter.textContent) + body.new_labels);
        // New labels on the day page: train on them at once (the Retrain button's own path, which
        // reloads the day ranked by the new model).
        const retrain = document.getElementById("retrain");
        if (train && retrain && (body.new_labels > 0 || body.changed_labels > 0)) {
          retrain.disabled = false;
          retrain.click();
        }
        return;
      }
      const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("\n") : body.detail;
      show(box, "Nothing imported: " + (detail || "the service answered " + response.status), true);
    } catch (error) {
      show(box, "Nothing imported: " + error, true);
    } finally {
      button.disabled = false;
    }
  }

  const form = document.getElementById("import-form");
  if (form) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const box = document.getElementById("import-report");
      const file = form.elements.file.files[0];
      const text = form.elements.text.value;
      const data = new FormData();
      // Into the topic the page shows (index.html's body data-topic; the default one elsewhere).
      const topic = document.body.dataset.topic || "default";
      let url = "/labels/import?topic=" + encodeURIComponent(topic);
      if (file) {
        data.append("file", file);
        // The file's labels carry its time: a label given on the page since then wins.
        url += "&modified=" + encodeURIComponent(new Date(file.lastModified).toISOString());
      } else if (text.trim()) {
        data.append("text", text);
      } else {
        show(box, "Paste arXiv ids or URLs, or choose a file.", true);
        return;
      }
      const train = form.elements.train ? form.elements.train.checked : false;
      importAndShow(url, data, box, form.querySelector("button[type=submit]"), train);
    });
  }

  const seed = document.getElementById("seed-form");
  if (seed) {
    seed.addEventListener("submit", (event) => {
      event.preventDefault();
      const box = document.getElementById("import-report");
      const ids = Array.from(seed.querySelectorAll('input[name="id"]:checked')).map((box) => box.value);
      if (!ids.length) { show(box, "Tick the papers that are yours first.", true); return; }
      const data = new FormData();
      data.append("text", ids.join("\n"));
      importAndShow("/labels/import", data, box, seed.querySelector("button[type=submit]"));
    });
  }
})();
