// The search pages' memory of visits: "since my last visit" is the last time this browser opened
// a search page before this visit (one visit: this tab's session), kept in localStorage; nothing
// of it leaves the browser but the time, in the `since` of a search the reader asks for.
(function () {
  const LAST = "arxiv-reco-last-visit";
  const PREVIOUS = "arxiv-reco-previous-visit";
  let previous = "";
  try {
    previous = sessionStorage.getItem(PREVIOUS);
    if (previous === null) {
      previous = localStorage.getItem(LAST) || "";
      sessionStorage.setItem(PREVIOUS, previous);
    }
    localStorage.setItem(LAST, new Date().toISOString().replace(/\.\d+Z$/, "Z"));
  } catch (error) {
    previous = ""; // storage refused (a private window's settings): no last visit to offer
  }

  const since = document.getElementById("since");
  if (since && previous) {
    const text = "since my last visit (" + previous.slice(0, 16).replace("T", " ") + " UTC)";
    const known = Array.from(since.options).find((option) => option.value === previous);
    if (known) known.textContent = text;
    else since.add(new Option(text, previous), 1);
  }

  // "/" goes to the search box, as on many sites; not while typing in a field.
  const box = document.querySelector('form.search input[name="q"]');
  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || !box || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) return;
    event.preventDefault();
    box.focus();
    box.select();
  });
})();
