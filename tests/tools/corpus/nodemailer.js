// Composer: nodemailer's MailComposer (npm), messages built in memory.
// usage: NODE_PATH=DIR/node_modules node nodemailer.js OUTDIR
'use strict';
const fs = require('fs');
const path = require('path');
const MailComposer = require('nodemailer/lib/mail-composer');

const out = process.argv[2];
const long = "Réunion trimestrielle : résultats, prévisions budgétaires et planification stratégique pour l'année 2027";
const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
const base = (subject, id) => ({
  from: 'Jürgen Groß <juergen@example.org>', to: 'Zoë Müller <zoe@example.net>', subject,
  date: new Date('2026-12-01T10:00:00Z'), messageId: `<${id}@example.org>`,
});
const cases = [
  ['nodemailer--utf8', { ...base('Résumé de la réunion', 'nm1'), text: 'Bonjour Zoë,\n\nà bientôt.\n' }],
  ['nodemailer--long-subject', { ...base(long, 'nm2'), text: 'Long subject.\n' }],
  ['nodemailer--attachment-utf8-name', { ...base('CV', 'nm3'), text: 'Voir la pièce jointe.\n',
    attachments: [{ filename: 'Résumé 2026.pdf', content: pdf, contentType: 'application/pdf' }] }],
  ['nodemailer--html-inline-image', { ...base('Newsletter', 'nm4'), text: 'Grüße\n',
    html: '<p>Grüße <img src="cid:logo@example.org"></p>',
    attachments: [{ filename: 'logo.png', content: png, cid: 'logo@example.org' }] }],
  ['nodemailer--calendar', { ...base('Invitation: Réunion', 'nm5'), text: 'Invitation\n',
    icalEvent: { method: 'REQUEST', content: 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:nm5@example.org\r\nDTSTART:20261203T100000Z\r\nSUMMARY:Réunion\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' } }],
];
(async () => {
  for (const [name, opts] of cases) {
    const msg = await new MailComposer(opts).compile().build();
    fs.writeFileSync(path.join(out, name + '.eml'), msg);
  }
})().catch((e) => { console.error(e); process.exit(1); });
