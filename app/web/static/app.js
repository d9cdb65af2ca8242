// The reader's page: labels, abstracts, the keys, the retrain button. Any page whose papers are
// `.paper[data-paper-id]` cards with `.vote[data-interest]` buttons (app/web/templates/_card.html)
// gets the same labelling and keys. Writes go through write.js (the API token, asked once).
(function () {
  const write = window.arxivRecoWrite;  // write.js, loaded before this file

  const papers = Array.from(document.querySelectorAll(".paper[data-paper-id]"));
  // The topic the page shows (index.html): labels and retrains go to it.
  const topic = document.body.dataset.topic || "default";
  const inTopic = topic === "default" ? "" : "?topic=" + encodeURIComponent(topic);

  // ---- Labels -------------------------------------------------------------------------------

  function savedLabel(item) {
    const pressed = item.querySelector('.vote[aria-pressed="true"]');
    return pressed ? Number(pressed.dataset.interest) : null;
  }

  function showLabel(item, interest) {
    item.querySelectorAll(".vote").forEach((b) => {
      b.setAttribute("aria-pressed", String(interest !== null && Number(b.dataset.interest) === interest));
    });
  }

  // The status line's count follows each answer: +1 for a first label, -1 for a cleared one,
  // nothing for a changed one. A paper's writes run one after the other, so each starts from the
  // state the previous one saved.
  function countLabel(before, after) {
    const counter = document.getElementById("label-count");
    if (!counter || (before === null) === (after === null)) return;
    const count = Number(counter.textContent) + (after === null ? -1 : 1);
    counter.textContent = String(count);
    const retrain = document.getElementById("retrain");
    if (retrain && !retrain.dataset.running) {
      retrain.disabled = count === 0;
      retrain.title = count === 0 ? "Label some papers first" : "";
    }
  }

  const pending = new WeakMap();

  // Press a label button: set that label, or clear it when it is already set.
  function vote(item, interest) {
    const previous = pending.get(item) || Promise.resolve();
    const next = previous.then(async () => {
      const before = savedLabel(item);
      const url = "/papers/" + item.dataset.paperId + "/label" + inTopic;
      const response = before === interest
        ? await write("DELETE", url)
        : await write("POST", url, { interest: interest });
      if (!response || !response.ok) {
        const detail = response ? (await response.json()).detail : "no answer";
        alert("The label was not saved: " + detail);
        return;
      }
      const after = (await response.json()).interest;
      showLabel(item, after);
      countLabel(before, after);
    });
    pending.set(item, next.catch(() => {}));
    return next;
  }

  papers.forEach((item) => {
    item.querySelectorAll(".vote").forEach((button) => {
      button.addEventListener("click", () => vote(item, Number(button.dataset.interest)));
    });
  });

  // ---- Abstracts: the first lines, the rest on "more" (or the key) --------------------------

  function setOpen(item, open) {
    item.classList.toggle("open", open);
    const more = item.querySelector(".more");
    if (more) {
      more.setAttribute("aria-expanded", String(open));
      more.textContent = open ? "less" : "more";
    }
  }

  function toggleAbstract(item) {
    setOpen(item, !item.classList.contains("open"));
  }

  papers.forEach((item) => {
    const more = item.querySelector(".more");
    if (more) more.addEventListener("click", () => toggleAbstract(item));
  });

  // An abstract that fits in its first lines needs no "more": all heights read, then all marked.
  const fitting = papers.filter((item) => {
    const text = item.querySelector(".abstract");
    return text && text.scrollHeight <= text.clientHeight + 1;
  });
  fitting.forEach((item) => item.classList.add("fits"));

  const expandAll = document.getElementById("expand-all");
  function toggleAll() {
    if (!expandAll) return;
    const open = expandAll.getAttribute("aria-pressed") !== "true";
    papers.forEach((item) => setOpen(item, open));
    expandAll.setAttribute("aria-pressed", String(open));
    expandAll.textContent = open ? "Collapse all abstracts" : "Expand all abstracts";
  }
  if (expandAll) expandAll.addEventListener("click", toggleAll);

  // ---- The keys -----------------------------------------------------------------------------

  let current = -1;

  function markCurrent(index) {
    if (current >= 0) {
      papers[current].classList.remove("current");
      papers[current].removeAttribute("aria-current");
    }
    current = index;
    papers[current].classList.add("current");
    papers[current].setAttribute("aria-current", "true");
  }

  function focusPaper(index) {
    if (!papers.length) return;
    markCurrent(Math.max(0, Math.min(papers.length - 1, index)));
    papers[current].focus({ preventScroll: true });
    papers[current].scrollIntoView({ block: "nearest" });
  }

  // A click inside a card makes it the current one, so the keys go on from there; a click on a
  // button or a link keeps its focus.
  papers.forEach((item, index) => {
    item.addEventListener("click", (event) => {
      if (activates(event.target)) markCurrent(index);
      else focusPaper(index);
    });
  });

  // The current paper for a key that acts on one. With none chosen yet, the first key chooses the
  // first paper and does nothing else: a label never lands on a paper the reader has not seen
  // marked.
  function onCurrent(action) {
    return () => {
      if (current < 0) { focusPaper(0); return; }
      action(papers[current]);
    };
  }

  // The topic switcher's next topic, after the last the first (index.html's nav.topics).
  function nextTopic() {
    const links = Array.from(document.querySelectorAll("nav.topics a[data-topic]"));
    if (links.length < 2) return;
    const here = links.findIndex((a) => a.getAttribute("aria-current") === "page");
    window.location.href = links[(here + 1) % links.length].href;
  }

  function followLink(id) {
    const link = document.getElementById(id);
    if (link) window.location.href = link.href;
  }

  const KEYS = [
    { keys: ["j"], help: "next paper", run: () => focusPaper(current + 1) },
    { keys: ["k"], help: "previous paper", run: () => focusPaper(current < 0 ? 0 : current - 1) },
    { keys: ["i"], help: "interesting (again: clear the label)", run: onCurrent((p) => vote(p, 1)) },
    { keys: ["x"], help: "not for me (again: clear the label)", run: onCurrent((p) => vote(p, 0)) },
    { keys: ["o"], help: "open the paper on arXiv", run: onCurrent((p) => {
      const link = p.querySelector("a.title");
      if (link) window.open(link.href, "_blank", "noopener");
    }) },
    { keys: [" ", "Enter"], names: ["Space", "Enter"], help: "open or close the abstract", run: onCurrent(toggleAbstract) },
    { keys: ["e"], help: "expand or collapse every abstract", run: toggleAll },
    { keys: ["n"], help: "next day", run: () => followLink("next-day") },
    { keys: ["p"], help: "previous day", run: () => followLink("prev-day") },
    { keys: ["t"], help: "next topic", run: nextTopic },
    { keys: ["?"], help: "show or hide these keys", run: () => toggleHelp() },
  ];

  let help = null;
  function helpDialog() {
    if (help) return help;
    help = document.createElement("dialog");
    help.id = "keys-help";
    help.setAttribute("role", "dialog");
    help.setAttribute("aria-labelledby", "keys-help-title");
    const title = document.createElement("h2");
    title.id = "keys-help-title";
    title.textContent = "Keys";
    const list = document.createElement("dl");
    KEYS.forEach((entry) => {
      const term = document.createElement("dt");
      (entry.names || entry.keys).forEach((name, i) => {
        if (i) term.append(" / ");
        const kbd = document.createElement("kbd");
        kbd.textContent = name;
        term.append(kbd);
      });
      const description = document.createElement("dd");
      description.textContent = entry.help;
      list.append(term, description);
    });
    const note = document.createElement("p");
    note.textContent = "Esc closes this. The keys do nothing while you type in a field.";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "close";
    close.textContent = "Close";
    close.addEventListener("click", () => help.close());
    help.append(title, list, note, close);
    document.body.append(help);
    return help;
  }

  let openedFrom = null;
  function toggleHelp() {
    const dialog = helpDialog();
    if (dialog.open) {
      dialog.close();
      return;
    }
    openedFrom = document.activeElement;
    dialog.showModal();
    dialog.addEventListener("close", () => {
      if (openedFrom && openedFrom.focus) openedFrom.focus({ preventScroll: true });
    }, { once: true });
  }

  const showKeys = document.getElementById("show-keys");
  if (showKeys) showKeys.addEventListener("click", toggleHelp);

  function typing(target) {
    return target instanceof HTMLElement
      && (target.isContentEditable || target.closest("input, textarea, select") !== null);
  }

  // Space and Enter keep their own meaning on a link, a button or a summary.
  function activates(target) {
    return target instanceof HTMLElement && target.closest("a, button, summary") !== null;
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    const entry = KEYS.find((e) => e.keys.includes(event.key));
    if (!entry) return;
    if (help && help.open && event.key !== "?") return; // Esc is the dialog's own
    if ((event.key === " " || event.key === "Enter") && (current < 0 || activates(event.target))) return;
    event.preventDefault();
    entry.run();
  });

  // ---- Retrain ------------------------------------------------------------------------------

  // The new model scores the stored days in the background, newest first: reload once it has
  // reached the day shown (at most a minute), so the page shows the new ranking, not a gap.
  async function untilDayScored(versionId) {
    const field = document.querySelector("nav.days input[name=date]");
    if (!field || !versionId) { await new Promise((r) => setTimeout(r, 1500)); return; }
    status.textContent += " Ranking the day with the new model…";
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      const answer = await fetch("/recommendations?limit=1&date=" + encodeURIComponent(field.value)
        + (inTopic ? "&topic=" + encodeURIComponent(topic) : ""));
      if (answer.ok) {
        const day = await answer.json();
        if (day.model && day.model.id === versionId && day.pending === 0) return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  // A day the service has not fetched: fetch it (POST /ingest), then show it.
  const fetchDay = document.getElementById("fetch-day");
  if (fetchDay) {
    fetchDay.addEventListener("click", async () => {
      const said = document.getElementById("fetch-status");
      fetchDay.disabled = true;
      said.textContent = "Fetching…";
      const response = await write("POST", "/ingest?date=" + encodeURIComponent(fetchDay.dataset.day));
      if (!response || !response.ok) {
        const detail = response ? (await response.json().catch(() => ({}))).detail : null;
        said.textContent = "Not fetched: " + (Array.isArray(detail) ? detail.map((d) => d.msg).join(" ") : detail || "no answer");
        fetchDay.disabled = false;
        return;
      }
      const poll = async () => {
        const status = await (await fetch("/status")).json();
        if ((status.last_runs || []).some((run) => run.status === "running")) { setTimeout(poll, 1500); return; }
        location.reload();
      };
      setTimeout(poll, 1500);
    });
  }

  const retrain = document.getElementById("retrain");
  const status = document.getElementById("retrain-status");
  if (retrain) {
    retrain.addEventListener("click", async () => {
      retrain.disabled = true;
      retrain.dataset.running = "true";
      status.textContent = "Retraining…";
      let response = await write("POST", "/retrain" + inTopic);
      // Another job holds the lock (the daily fetch, a backfill): wait for it, then train.
      const patience = Date.now() + 10 * 60 * 1000;
      while (response && response.status === 409 && Date.now() < patience) {
        const detail = (await response.json().catch(() => ({}))).detail;
        status.textContent = "Waiting for the running job to finish, then retraining… (" + (detail || "busy") + ")";
        await new Promise((r) => setTimeout(r, 3000));
        response = await write("POST", "/retrain" + inTopic);
      }
      if (!response || !response.ok) {
        status.textContent = "Retrain refused: " + (response ? (await response.json()).detail : "no answer");
        retrain.disabled = false;
        delete retrain.dataset.running;
        return;
      }
      // The retrain this POST started, on whichever web process the poll lands.
      const started = (await response.json()).started_at;
      const since = started ? "?since=" + encodeURIComponent(started) : "";
      const poll = async () => {
        const job = await (await fetch("/retrain" + since)).json();
        if (job.state === "running") { setTimeout(poll, 2000); return; }
        status.textContent = job.message || job.state;
        retrain.disabled = false;
        delete retrain.dataset.running;
        if (job.state === "done" && job.activated) {
          await untilDayScored(job.outcome && job.outcome.version_id);
          location.reload();
        }
      };
      poll();
    });
  }
})();
