// The onboarding page: an answer per paper (interesting, not for me, skip), then "Next batch"
// sends them all (unanswered ones as skips) to POST /onboarding/answers, which stores them and
// retrains; the page then reloads with the papers the new model chose, and says what happened.
(function () {
  const MESSAGE_KEY = "arxiv-reco-onboarding-message";
  const write = window.arxivRecoWrite;
  const problem = window.arxivRecoProblem;
  const message = document.getElementById("onboarding-message");

  // After "Next batch" the page reloads: the new batch and what happened, from the top.
  history.scrollRestoration = "manual";
  const said = sessionStorage.getItem(MESSAGE_KEY);
  if (said && message) {
    message.textContent = said;
    message.hidden = false;
    sessionStorage.removeItem(MESSAGE_KEY);
    window.scrollTo(0, 0);
  }

  const papers = Array.from(document.querySelectorAll(".paper[data-asked-id]"));
  const counter = document.getElementById("answered-count");

  function answerOf(item) {
    const pressed = item.querySelector('.vote[aria-pressed="true"]');
    return pressed ? pressed.dataset.answer : null;
  }

  function count() {
    const answered = papers.filter((item) => answerOf(item) !== null).length;
    if (counter) counter.textContent = answered + " of " + papers.length + " answered";
  }

  // Press an answer: it is the paper's answer; press it again to take it back.
  function answer(item, value) {
    const again = answerOf(item) === value;
    item.querySelectorAll(".vote").forEach((b) => {
      b.setAttribute("aria-pressed", String(!again && b.dataset.answer === value));
    });
    count();
  }

  papers.forEach((item) => {
    item.querySelectorAll(".vote").forEach((button) => {
      button.addEventListener("click", () => answer(item, button.dataset.answer));
    });
    const more = item.querySelector(".more");
    if (more) more.addEventListener("click", () => toggle(item));
    item.addEventListener("click", (event) => {
      if (!(event.target instanceof HTMLElement && event.target.closest("a, button"))) focus(papers.indexOf(item));
    });
  });

  function toggle(item) {
    const open = !item.classList.contains("open");
    item.classList.toggle("open", open);
    const more = item.querySelector(".more");
    more.setAttribute("aria-expanded", String(open));
    more.textContent = open ? "less" : "more";
  }

  // An abstract that fits in its first lines needs no "more".
  papers
    .filter((item) => {
      const text = item.querySelector(".abstract");
      return text && text.scrollHeight <= text.clientHeight + 1;
    })
    .forEach((item) => item.classList.add("fits"));

  // ---- Keys: j/k move, i/x/s answer the current paper and go to the next ----------------------
  let current = -1;
  function focus(index) {
    if (!papers.length) return;
    if (current >= 0) papers[current].classList.remove("current");
    current = Math.max(0, Math.min(papers.length - 1, index));
    papers[current].classList.add("current");
    papers[current].focus({ preventScroll: true });
    papers[current].scrollIntoView({ block: "nearest" });
  }
  const ANSWER_KEYS = { i: "1", x: "0", s: "skip" };
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select")) return;
    if (event.key === "j") focus(current + 1);
    else if (event.key === "k") focus(current < 0 ? 0 : current - 1);
    else if (event.key in ANSWER_KEYS) {
      if (current < 0) { focus(0); return; }
      answer(papers[current], ANSWER_KEYS[event.key]);
      if (answerOf(papers[current]) !== null) focus(current + 1);
    } else return;
    event.preventDefault();
  });

  // ---- Next batch ---------------------------------------------------------------------------
  const next = document.getElementById("next-batch");
  const status = document.getElementById("onboarding-status");
  if (next) {
    next.addEventListener("click", async () => {
      const answers = papers.map((item) => {
        const value = answerOf(item);
        return {
          paper_id: item.dataset.askedId,
          interest: value === "1" ? 1 : value === "0" ? 0 : null,
        };
      });
      next.disabled = true;
      status.textContent = answers.some((a) => a.interest !== null)
        ? "Saving your answers and training a model on them…"
        : "Skipping these…";
      // Into the topic the page shows (onboarding.html's body data-topic).
      const topic = document.body.dataset.topic || "default";
      const response = await write("POST", "/onboarding/answers?topic=" + encodeURIComponent(topic), answers);
      if (!response || !response.ok) {
        status.textContent = "Not saved: " + (await problem(response));
        next.disabled = false;
        return;
      }
      const done = await response.json();
      sessionStorage.setItem(MESSAGE_KEY, done.retrain.message);
      window.location.reload();
    });
  }
})();
