// One-click labels and the retrain button. Writes send the API token when the service has one;
// the page asks for it once and keeps it in this browser.
(function () {
  const TOKEN_KEY = "arxiv-reco-token";

  async function write(method, url, body) {
    for (let attempt = 0; attempt < 2; attempt++) {
      const headers = { "Content-Type": "application/json" };
      const token = localStorage.getItem(TOKEN_KEY);
      if (token) headers["Authorization"] = "Bearer " + token;
      const response = await fetch(url, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (response.status !== 401) return response;
      const given = window.prompt("This service needs its API token to save changes (`arxiv-reco token` on the server prints it):");
      if (!given) return response;
      localStorage.setItem(TOKEN_KEY, given.trim());
    }
    return null;
  }

  document.querySelectorAll(".paper").forEach((item) => {
    const id = item.dataset.paperId;
    item.querySelectorAll(".vote").forEach((button) => {
      button.addEventListener("click", async () => {
        const clearing = button.getAttribute("aria-pressed") === "true";
        const url = "/papers/" + id + "/label";
        const response = clearing
          ? await write("DELETE", url)
          : await write("POST", url, { interest: Number(button.dataset.interest) });
        if (!response || !response.ok) {
          const detail = response ? (await response.json()).detail : "no answer";
          alert("The label was not saved: " + detail);
          return;
        }
        const saved = (await response.json()).interest;
        item.querySelectorAll(".vote").forEach((b) => {
          b.setAttribute("aria-pressed", String(saved !== null && Number(b.dataset.interest) === saved));
        });
      });
    });
  });

  const retrain = document.getElementById("retrain");
  const status = document.getElementById("retrain-status");
  if (retrain) {
    retrain.addEventListener("click", async () => {
      retrain.disabled = true;
      status.textContent = "Retraining…";
      const response = await write("POST", "/retrain");
      if (!response || !response.ok) {
        status.textContent = "Retrain refused: " + (response ? (await response.json()).detail : "no answer");
        retrain.disabled = false;
        return;
      }
      const poll = async () => {
        const job = await (await fetch("/retrain")).json();
        if (job.state === "running") { setTimeout(poll, 2000); return; }
        status.textContent = job.message || job.state;
        retrain.disabled = false;
        if (job.state === "done" && job.activated) setTimeout(() => location.reload(), 1500);
      };
      poll();
    });
  }
})();
