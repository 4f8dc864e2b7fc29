/**
 * Markdown previews of artifacts (agent output, so untrusted): raw HTML in the markdown is shown
 * as text, links keep only http(s), mailto and relative targets, images become their alt text.
 * The console's CSP (no inline script, no remote images) stands behind it.
 */
import { Marked } from 'marked';

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

const SAFE_HREF = /^(https?:|mailto:|#|\/(?!\/)|\.{0,2}\/|[^:]*$)/i;

const marked = new Marked({
  gfm: true,
  async: false,
  renderer: {
    html: ({ text }) => escapeHtml(text),
    link({ href, title, tokens }) {
      const inner = this.parser.parseInline(tokens);
      if (!SAFE_HREF.test(href)) return inner;
      const t = title ? ` title="${escapeHtml(title)}"` : '';
      return `<a href="${escapeHtml(href)}"${t} rel="noopener noreferrer nofollow" target="_blank">${inner}</a>`;
    },
    image: ({ text }) => `<span class="md-image">[image: ${escapeHtml(text)}]</span>`,
  },
});

export function renderMarkdown(text: string): string {
  return marked.parse(text, { async: false }) as string;
}
