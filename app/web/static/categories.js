// The followed categories page: a filter over arXiv's taxonomy, and "Save" sends the ticked ones
// to PUT /categories; while the added ones' recent days are fetched, GET /categories tells how far.
(function () {
  const write = window.arxivRecoWrite;
  const problem = window.arxivRecoProblem;
  const form = document.getElementById("categories-form");
  const filter = document.getElementById("category-filter");
  const status = document.getElementById("categories-status");
  const backfill = document.getElementById("backfill");
  const followed = document.getElementById("followed");
  const noMatch = document.getElementById("no-match");
  const archives = Array.from(document.querySelectorAll(".archive"));

  // Every word of the filter must appear in the category's code, name or archive.
  filter.addEventListener("input", () => {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    archives.forEach((archive) => {
      let any = false;
      archive.querySelectorAll(".category").forEach((label) => {
        const match = words.every((word) => label.dataset.text.includes(word));
        label.hidden = !match;
        any = any || match;
        shown += match ? 1 : 0;
      });
      archive.hidden = !any;
    });
    noMatch.hidden = shown > 0;
  });
  // Enter in the filter does not save.
  filter.addEventListener("keydown", (event) => { if (event.key === "Enter") event.preventDefault(); });

  function showFollowed(answer) {
    const codes = answer.categories.map((c) => "<code>" + c + "</code>").join(", ");
    followed.innerHTML = "Each day's new papers of these categories (cross-lists included) are fetched: "
      + codes + ". An added category's last days are fetched at once; a removed one is no longer fetched, and its papers stay.";
  }

  function showBackfill(answer) {
    backfill.textContent = answer.backfill ? answer.backfill.message : "";
    form.dataset.backfillState = answer.backfill ? answer.backfill.state : "";
    if (answer.backfill && answer.backfill.state === "running") setTimeout(poll, 1500);
  }

  async function poll() {
    const response = await fetch("/categories", { headers: { Accept: "application/json" } });
    if (response.ok) showBackfill(await response.json());
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const categories = Array.from(form.querySelectorAll('input[name="category"]:checked')).map((box) => box.value);
    const save = document.getElementById("save-categories");
    save.disabled = true;
    status.textContent = "Saving…";
    const response = await write("PUT", "/categories", { categories });
    save.disabled = false;
    if (!response || !response.ok) {
      status.textContent = "Not saved: " + (await problem(response));
      return;
    }
    const answer = await response.json();
    const changes = [];
    if (answer.added.length) changes.push("added " + answer.added.join(", "));
    if (answer.removed.length) changes.push("no longer fetching " + answer.removed.join(", ") + " (their papers stay)");
    status.textContent = "Saved" + (changes.length ? ": " + changes.join("; ") : "") + ".";
    showFollowed(answer);
    showBackfill(answer);
  });

  if (form.dataset.backfillState === "running") setTimeout(poll, 1500);
})();
