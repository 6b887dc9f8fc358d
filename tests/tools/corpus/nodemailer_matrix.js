// Composer matrix: nodemailer's MailComposer over the charsets of langs.json
// (nodemailer writes UTF-8 headers; bodies in UTF-8 with its own encodings),
// plus structures it builds: alternatives, attachments, forwards, lists.
// usage: NODE_PATH=DIR/node_modules node nodemailer_matrix.js OUTDIR
'use strict';
const fs = require('fs');
const path = require('path');
const MailComposer = require('nodemailer/lib/mail-composer');

const out = process.argv[2];
const langs = JSON.parse(fs.readFileSync(path.join(__dirname, 'langs.json'), 'utf8'));
const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
const base = (name, subject, id) => ({
  from: `${name} <sender@example.org>`, to: 'Zoë Müller <zoe@example.net>', subject,
  date: new Date('2026-12-01T10:00:00Z'), messageId: `<${id}@corpus.example.org>`, baseBoundary: id,
});
const cases = [];
for (const [tag, , name, subj, body, fname] of langs) {
  cases.push([`nodemailer--${tag}-text`, { ...base(name, subj, `nm-${tag}-1`), text: body }]);
  cases.push([`nodemailer--${tag}-html-attachment`, { ...base(name, subj, `nm-${tag}-2`), text: body,
    html: `<p>${body}</p>`, attachments: [{ filename: fname, content: pdf, contentType: 'application/pdf' }] }]);
}
cases.push(['nodemailer--forward-eml', { ...base('N', 'Fwd: x', 'nm-fwd'), text: 'fwd\n',
  attachments: [{ filename: 'orig.eml', contentType: 'message/rfc822',
    content: 'From: a@example.org\r\nTo: b@example.net\r\nSubject: orig\r\nDate: Tue, 1 Dec 2026 09:00:00 +0000\r\n\r\nbody\r\n' }] }]);
cases.push(['nodemailer--list-headers', { ...base('N', 'Digest', 'nm-list'), text: 'digest\n',
  list: { unsubscribe: 'https://lists.example.org/unsub', id: { url: 'dev.lists.example.org', comment: 'Développeurs' } } }]);
cases.push(['nodemailer--only-attachments', { ...base('N', 'files', 'nm-only'),
  attachments: [{ filename: 'a.pdf', content: pdf }, { filename: 'b.txt', content: 'text\n' }] }]);
(async () => {
  for (const [name, opts] of cases) {
    const msg = await new MailComposer(opts).compile().build();
    fs.writeFileSync(path.join(out, name + '.eml'), msg);
  }
})().catch((e) => { console.error(e); process.exit(1); });
