#!/usr/bin/ruby
# Composer matrix: Ruby's mail gem over the charsets of langs.json.
# usage: ruby_matrix.rb OUTDIR
require 'mail'
require 'json'

out = ARGV[0] or abort "usage: #{$0} OUTDIR"
langs = JSON.parse(File.read(File.join(__dir__, 'langs.json'), encoding: 'UTF-8'))
pdf = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
srand(12)
save = ->(name, m) { File.binwrite(File.join(out, "#{name}.eml"), m.to_s) }
head = lambda do |m, name, subject, id|
  m.from = "#{name} <sender@example.org>"
  m.to = 'Zoë Müller <zoe@example.net>'
  m.subject = subject
  m.date = 'Tue, 1 Dec 2026 10:00:00 +0000'
  m.message_id = "<#{id}@corpus.example.org>"
end
langs.each do |tag, cs, name, subj, body, fname|
  m = Mail.new
  head.(m, name, subj, "rb-#{tag}-1")
  m.charset = 'UTF-8'
  m.body = body
  save.("ruby-mail--#{tag}-text", m)
  m = Mail.new
  head.(m, name, subj, "rb-#{tag}-2")
  m.text_part = Mail::Part.new { content_type 'text/plain; charset=UTF-8'; body body }
  m.html_part = Mail::Part.new { content_type 'text/html; charset=UTF-8'; body "<p>#{body}</p>" }
  m.attachments[fname] = { mime_type: 'application/pdf', content: pdf }
  save.("ruby-mail--#{tag}-alternative-attachment", m)
end
m = Mail.new
head.(m, 'Ruby', 'Fwd: original', 'rb-fwd')
inner = Mail.new { from 'a@example.org'; to 'b@example.net'; subject 'original'; body "original\n" }
inner.date = 'Tue, 1 Dec 2026 09:00:00 +0000'
inner.message_id = '<rb-inner@corpus.example.org>'
m.text_part = Mail::Part.new { body "forwarded\n" }
m.attachments['original.eml'] = { mime_type: 'message/rfc822', content: inner.to_s }
save.('ruby-mail--forward-eml', m)
