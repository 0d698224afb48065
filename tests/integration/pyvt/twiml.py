"""Parsing TwiML answers (xml.etree) and what a caller would hear."""
import xml.etree.ElementTree as ET

XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>'


class Twiml:
    def __init__(self, text):
        self.text = text
        self.root = ET.fromstring(text.encode("utf-8") if isinstance(text, str) else text)
        if self.root.tag != "Response":
            raise ValueError("root element is <%s>, not <Response>" % self.root.tag)

    @property
    def verbs(self):
        """Top-level verb names in order."""
        return [c.tag for c in self.root]

    def find(self, path):
        return self.root.find(path)

    def findall(self, path):
        return self.root.findall(path)

    @property
    def says(self):
        """Every <Say> anywhere, in document order."""
        return list(self.root.iter("Say"))

    def spoken(self):
        """What the caller hears, in order (the text of every <Say>)."""
        return [(s.text or "") for s in self.says]

    @property
    def gather(self):
        return self.root.find("Gather")

    def gather_prompt(self):
        """The text said inside the <Gather> (None when there is no Gather or no Say)."""
        g = self.gather
        say = g.find("Say") if g is not None else None
        return None if say is None else (say.text or "")

    def ends_with_hangup(self):
        return bool(len(self.root)) and self.root[-1].tag == "Hangup"

    def say_then_hangup(self):
        """<Say>...</Say> immediately followed by <Hangup/> at top level."""
        v = self.verbs
        return any(v[i] == "Say" and v[i + 1] == "Hangup" for i in range(len(v) - 1))

    def __repr__(self):
        return "Twiml(%r)" % self.text


def parse_twiml(text):
    return Twiml(text)
