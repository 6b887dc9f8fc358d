#!/usr/bin/ruby
# Composer: Ruby's mail gem (Debian ruby-mail). usage: ruby_mail.rb OUTDIR
require 'mail'

out = ARGV[0] or abort "usage: #{$0} OUTDIR"
long = "Réunion trimestrielle : résultats, prévisions budgétaires et planification stratégique pour l'année 2027"
pdf = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
png = ["89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"].pack("H*")
save = ->(name, m) { File.binwrite(File.join(out, "#{name}.eml"), m.to_s) }
head = lambda do |m, subject, id|
  m.from = 'Jürgen Groß <juergen@example.org>'
  m.to = 'Zoë Müller <zoe@example.net>'
  m.subject = subject
  m.date = 'Tue, 1 Dec 2026 10:00:00 +0000'
  m.message_id = "<#{id}@example.org>"
  m.charset = 'UTF-8'
end

m = Mail.new
head.(m, 'Ruby ascii', 'rb1')
m.body = "Hello from the Ruby mail gem.\n"
save.('ruby-mail--ascii', m)

m = Mail.new
head.(m, long, 'rb2')
m.body = "Bonjour Zoë,\n\nà bientôt.\n"
save.('ruby-mail--long-subject', m)

m = Mail.new
head.(m, 'CV', 'rb3')
m.text_part = Mail::Part.new { content_type 'text/plain; charset=UTF-8'; body "Voir la pièce jointe.\n" }
m.attachments['Résumé 2026.pdf'] = { mime_type: 'application/pdf', content: pdf }
save.('ruby-mail--attachment-utf8-name', m)

m = Mail.new
head.(m, 'Newsletter', 'rb4')
m.attachments.inline['logo.png'] = { mime_type: 'image/png', content: png }
cid = m.attachments['logo.png'].url
m.html_part = Mail::Part.new { content_type 'text/html; charset=UTF-8'; body "<p>Grüße <img src=\"#{cid}\"></p>" }
m.text_part = Mail::Part.new { content_type 'text/plain; charset=UTF-8'; body "Grüße\n" }
save.('ruby-mail--html-inline-image', m)
