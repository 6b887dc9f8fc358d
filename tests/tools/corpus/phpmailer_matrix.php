<?php
// Composer matrix: PHPMailer over the charsets of langs.json (CharSet set to
// each; subject, name, body and attachment name converted to it).
// usage: php phpmailer_matrix.php OUTDIR
require '/usr/share/php/libphp-phpmailer/autoload.php';
use PHPMailer\PHPMailer\PHPMailer;

$out = $argv[1];
$langs = json_decode(file_get_contents(__DIR__ . '/langs.json'), true);
$pdf = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
mt_srand(12);
foreach ($langs as [$tag, $cs, $name, $subj, $body, $fname]) {
    $c = fn($s) => iconv('UTF-8', ($cs === 'windows-1252' ? 'CP1252' : $cs), $s);
    foreach (['text', 'attachment'] as $kind) {
        $m = new PHPMailer(true);
        $m->CharSet = $cs;
        $m->setFrom('sender@example.org', $c($name));
        $m->addAddress('zoe@example.net');
        $m->Subject = $c($subj);
        $m->MessageID = "<php-$tag-$kind@corpus.example.org>";
        $m->MessageDate = 'Tue, 1 Dec 2026 10:00:00 +0000';
        $m->Body = $c($body);
        if ($kind === 'attachment') {
            $m->addStringAttachment($pdf, $c($fname), PHPMailer::ENCODING_BASE64, 'application/pdf');
        }
        $m->preSend();
        file_put_contents("$out/phpmailer--$tag-$kind.eml", $m->getSentMIMEMessage());
    }
}
