// Login (#/login?next=<where to return>&why=expired|required): user name and password, POST
// /api/session; a wrong pair and too many attempts are named; afterwards back to `next`.
import { escapeHtml } from "../states.js";

/** Only an in-application address (#/...) is a place to return to. */
export function safeNext(next) {
  return typeof next === "string" && /^#\/(?!login\b)/.test(next) ? next : "#/";
}

export async function render(root, ctx) {
  const { t } = ctx;
  const why = ctx.params.get("why");
  const note = why === "expired" ? t("login.expired") : why === "required" ? t("login.required") : "";
  root.innerHTML = `
  <section class="panel login-panel">
    <h1>${t("login.title")}</h1>
    ${note ? `<p class="notice" id="login-note" role="status">${escapeHtml(note)}</p>` : ""}
    <form id="login-form" class="login-form" autocomplete="on">
      <label>${t("login.user")}<input id="login-user" name="username" autocomplete="username" required maxlength="64" autocapitalize="none" spellcheck="false"></label>
      <label>${t("login.password")}<input id="login-password" name="password" type="password" autocomplete="current-password" required maxlength="1024"></label>
      <button type="submit" id="login-submit">${t("login.submit")}</button>
      <p id="login-msg" class="msg error-text" role="alert"></p>
    </form>
  </section>`;
  const $ = (x) => root.querySelector(`#${x}`);
  const form = $("login-form");
  $("login-user").focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const user = $("login-user").value.trim();
    const password = $("login-password").value;
    if (!user || !password) return;
    $("login-submit").disabled = true;
    $("login-msg").textContent = "";
    try {
      await ctx.login(user, password);
      location.hash = safeNext(ctx.params.get("next"));
    } catch (err) {
      $("login-password").value = "";
      if (err instanceof ctx.ApiError && err.status === 401) $("login-msg").textContent = t("login.failed");
      else if (err instanceof ctx.ApiError && err.status === 429)
        $("login-msg").textContent = t("login.rate_limited", { s: err.retryAfterS || 60 });
      else if (err instanceof ctx.ApiError) $("login-msg").textContent = t("app.api_error", { message: err.message });
      else $("login-msg").textContent = t("app.load_failed");
      $("login-password").focus();
    } finally {
      $("login-submit").disabled = false;
    }
  });
  root.dataset.rendered = "1";
}
